/// Helpers for the small FHIR grammar pieces every resource uses.
public enum FHIRSyntax {
    /// FHIR `id`: 1–64 of `A–Z a–z 0–9 - .`.
    public static func isValidID(_ id: String) -> Bool {
        guard (1...64).contains(id.utf8.count) else { return false }
        return id.utf8.allSatisfy { byte in
            (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
                || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".")
        }
    }

    /// Splits a relative literal reference `Type/id` into its parts.
    public static func parseReference(_ reference: String) -> (type: String, id: String)? {
        let parts = reference.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, isValidID(String(parts[1])) else { return nil }
        return (String(parts[0]), String(parts[1]))
    }
}
