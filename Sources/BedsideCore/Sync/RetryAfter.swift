/// The HTTP `Retry-After` header in its delta-seconds form (RFC 9110 §10.2.3), read defensively: it comes
/// from a server, and a number the client then multiplies or sleeps on must be sane.
public enum RetryAfter {
    /// No wait a server asks for is taken longer than a day: past that it is a broken or hostile server,
    /// and the ordinary back-off (or the patient) decides when to try again.
    public static let maximumSeconds = 86_400

    /// Whole seconds, at most `maximumSeconds`; nil for anything else (negative, fractions, exponents, a date).
    public static func seconds(_ text: String) -> Int? {
        let trimmed = text.trimmingCharacters(in: " ")
        guard !trimmed.isEmpty, trimmed.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) else { return nil }
        // Only digits: a number too long for Int is simply more than the maximum.
        guard let value = Int(trimmed) else { return maximumSeconds }
        return min(value, maximumSeconds)
    }
}
