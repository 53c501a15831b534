/// Limits on what a command may carry. Identifiers are 1-256 bytes of printable UTF-8 (no
/// control characters); reasons are at most 1 KiB of UTF-8 without NUL.
public enum InputLimits {
    public static let maxIdentifierBytes = 256
    public static let maxReasonBytes = 1024

    /// Checks a key, session ID, owner name or environment field.
    ///
    /// - Returns: nil when valid, else the rejection naming `field`.
    public static func checkIdentifier(_ value: String, field: String) -> Rejection? {
        let size = value.utf8.count
        if size == 0 { return .invalid(field, "must not be empty") }
        if size > maxIdentifierBytes { return .invalid(field, "is \(size) bytes; at most \(maxIdentifierBytes) are allowed") }
        // Checked twice per write (by the server, then by the ledger): printable ASCII, the
        // usual case, is settled on the bytes without decoding scalars.
        let printableASCII = value.utf8.withContiguousStorageIfAvailable { bytes in
            bytes.allSatisfy { $0 >= 0x20 && $0 < 0x7F }
        }
        if printableASCII == true { return nil }
        for scalar in value.unicodeScalars where isControl(scalar) {
            return .invalid(field, "contains the control character U+\(hex(scalar.value)); only printable characters are allowed")
        }
        return nil
    }

    /// Checks a free-text reason.
    public static func checkReason(_ value: String, field: String = "reason") -> Rejection? {
        let size = value.utf8.count
        if size > maxReasonBytes { return .invalid(field, "is \(size) bytes; at most \(maxReasonBytes) are allowed") }
        if value.utf8.contains(0) { return .invalid(field, "contains a NUL character") }
        return nil
    }

    /// Checks every field of an environment.
    public static func checkEnvironment(_ environment: RuntimeEnvironment, field: String = "environment") -> Rejection? {
        for (name, value) in environment.fields {
            if let value, let problem = checkIdentifier(value, field: "\(field).\(name)") { return problem }
        }
        return nil
    }

    /// Unicode category Cc: C0 controls, DEL and C1 controls.
    @inline(__always)
    static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (scalar.value >= 0x7F && scalar.value < 0xA0)
    }

    private static func hex(_ value: UInt32) -> String {
        let digits = String(value, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }
}
