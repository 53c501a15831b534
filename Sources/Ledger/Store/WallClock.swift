#if canImport(Glibc)
import Glibc
#endif

/// The wall clock, in the unit the log stores: microseconds since the Unix epoch.
public enum WallClock {
    public static func microseconds() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1_000
    }
}
