/// The API's times: RFC 3339 in UTC with microseconds, `2026-11-21T10:15:00.123456Z`, for the
/// log's microseconds since the Unix epoch.
public enum Timestamp {
    /// Formats microseconds since the Unix epoch.
    public static func format(_ micros: Int64) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(27)
        write(micros, into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends the RFC 3339 form of `micros` (as ``format(_:)`` gives it) to `out`, with no
    /// intermediate String: replays and exports write one per event.
    public static func write(_ micros: Int64, into out: inout [UInt8]) {
        let (seconds, fraction) = micros.quotientAndRemainder(dividingBy: 1_000_000)
        var secs = seconds
        var frac = fraction
        if frac < 0 { frac += 1_000_000; secs -= 1 }
        let (days, secondOfDay) = floorDivide(secs, 86_400)
        let (year, month, day) = civil(fromDays: days)
        if (0...9999).contains(year) {
            // Every timestamp a ledger holds: the 27 bytes filled in place and appended once (an
            // append per byte was a fortieth of an event loop's time in the write answers).
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 27) { b in
                func two(_ value: Int64, at index: Int) {
                    b[index] = 0x30 + UInt8(value / 10)
                    b[index + 1] = 0x30 + UInt8(value % 10)
                }
                two(year / 100, at: 0); two(year % 100, at: 2); b[4] = UInt8(ascii: "-")
                two(month, at: 5); b[7] = UInt8(ascii: "-")
                two(day, at: 8); b[10] = UInt8(ascii: "T")
                two(secondOfDay / 3600, at: 11); b[13] = UInt8(ascii: ":")
                two(secondOfDay % 3600 / 60, at: 14); b[16] = UInt8(ascii: ":")
                two(secondOfDay % 60, at: 17); b[19] = UInt8(ascii: ".")
                two(frac / 10_000, at: 20); two(frac / 100 % 100, at: 22); two(frac % 100, at: 24)
                b[26] = UInt8(ascii: "Z")
                out.append(contentsOf: b)
            }
            return
        }
        if year < 0 { out.append(UInt8(ascii: "-")) }
        digits(year.magnitude, width: 4, into: &out)
        out.append(UInt8(ascii: "-"))
        digits(UInt64(month), width: 2, into: &out)
        out.append(UInt8(ascii: "-"))
        digits(UInt64(day), width: 2, into: &out)
        out.append(UInt8(ascii: "T"))
        digits(UInt64(secondOfDay / 3600), width: 2, into: &out)
        out.append(UInt8(ascii: ":"))
        digits(UInt64(secondOfDay % 3600 / 60), width: 2, into: &out)
        out.append(UInt8(ascii: ":"))
        digits(UInt64(secondOfDay % 60), width: 2, into: &out)
        out.append(UInt8(ascii: "."))
        digits(UInt64(frac), width: 6, into: &out)
        out.append(UInt8(ascii: "Z"))
    }

    /// `value` in decimal, zero-padded to at least `width` digits.
    private static func digits(_ value: UInt64, width: Int, into out: inout [UInt8]) {
        var count = 1
        var limit: UInt64 = 10
        while count < 20 && value >= limit {
            count += 1
            if limit > UInt64.max / 10 { break }
            limit *= 10
        }
        for _ in count..<max(count, width) { out.append(0x30) }
        let start = out.count
        var rest = value
        for _ in 0..<count { out.append(0x30) }
        var index = start + count - 1
        while index >= start {
            out[index] = 0x30 + UInt8(rest % 10)
            rest /= 10
            index -= 1
        }
    }

    /// Parses RFC 3339 (`2026-11-21T10:15:00Z`, fraction optional, `Z` or `±hh:mm`) or a plain
    /// date (`2026-11-21`, midnight UTC).
    ///
    /// - Returns: microseconds since the Unix epoch, or nil when `text` is neither.
    public static func parse(_ text: String) -> Int64? {
        let b = Array(text.utf8)
        func number(_ range: Range<Int>) -> Int64? {
            guard range.upperBound <= b.count else { return nil }
            var value: Int64 = 0
            for i in range {
                guard b[i] >= 0x30 && b[i] <= 0x39 else { return nil }
                value = value * 10 + Int64(b[i] - 0x30)
            }
            return value
        }
        guard b.count >= 10, b[4] == UInt8(ascii: "-"), b[7] == UInt8(ascii: "-"),
              let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
              (1...12).contains(month), (1...31).contains(day) else { return nil }
        let days = days(fromCivil: year, month, day)
        if b.count == 10 { return days * 86_400_000_000 }
        guard b.count >= 20, b[10] == UInt8(ascii: "T") || b[10] == UInt8(ascii: "t") || b[10] == UInt8(ascii: " "),
              b[13] == UInt8(ascii: ":"), b[16] == UInt8(ascii: ":"),
              let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19),
              hour < 24, minute < 60, second < 61 else { return nil }
        var index = 19
        var micros: Int64 = 0
        if b[index] == UInt8(ascii: ".") {
            index += 1
            var digits = 0
            while index < b.count, b[index] >= 0x30, b[index] <= 0x39 {
                if digits < 6 { micros = micros * 10 + Int64(b[index] - 0x30) }
                digits += 1
                index += 1
            }
            guard digits > 0 else { return nil }
            // Digits past the sixth are dropped (ledger keeps microseconds). The range is only
            // formed when it is not empty: `7..<6` traps, which a nanosecond time used to hit.
            if digits < 6 { for _ in digits..<6 { micros *= 10 } }
        }
        guard index < b.count else { return nil }
        var offset: Int64 = 0
        switch b[index] {
        case UInt8(ascii: "Z"), UInt8(ascii: "z"):
            guard index + 1 == b.count else { return nil }
        case UInt8(ascii: "+"), UInt8(ascii: "-"):
            guard index + 6 == b.count, b[index + 3] == UInt8(ascii: ":"),
                  let h = number(index + 1..<index + 3), let m = number(index + 4..<index + 6) else { return nil }
            offset = (h * 3600 + m * 60) * (b[index] == UInt8(ascii: "+") ? 1 : -1)
        default:
            return nil
        }
        let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset
        return seconds * 1_000_000 + micros
    }

    private static func floorDivide(_ a: Int64, _ b: Int64) -> (Int64, Int64) {
        let (q, r) = a.quotientAndRemainder(dividingBy: b)
        return r < 0 ? (q - 1, r + b) : (q, r)
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
    static func days(fromCivil year: Int64, _ month: Int64, _ day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    static func civil(fromDays days: Int64) -> (Int64, Int64, Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

}
