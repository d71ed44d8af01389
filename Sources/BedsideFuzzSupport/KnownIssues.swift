import BedsideCore

/// What a fuzz target knows to be broken and fixed elsewhere, so it does not stop on it again and again.
public enum KnownIssues {
    /// A number whose magnitude reaches 1e15 (below 2^63 with a margin), anywhere in the document.
    public static func hasHugeNumber(_ value: JSONValue) -> Bool {
        switch value {
        case .number(let literal): return Double(literal).map { !(abs($0) < 1e15) } ?? true
        case .array(let elements): return elements.contains(where: hasHugeNumber)
        case .object(let object): return object.contains { hasHugeNumber($0.value) }
        default: return false
        }
    }
}
