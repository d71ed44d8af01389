/// Checks TOML text for what TOMLKit must never see.
///
/// TOMLKit 0.6.0 bundles toml++ with its assertions on, and toml++ asserts (aborting the whole process)
/// when a table header starts with a character that cannot start a key, such as `[é]`, `[ ü]` or a `[`
/// that ends its line; found by the `theme` fuzz target. A typo in a config or theme file must be an error message, not a crash, so
/// such a header is refused here first. TOML allows only `A-Z a-z 0-9 _ -` or a quote there, so nothing
/// valid is refused; only a line inside a multi-line string that looks like such a header would be, and
/// neither file has a field where that makes sense.
public enum TOMLGuard {
    /// Why `text` is refused (naming the line), or nil when it may be given to TOMLKit.
    public static func problem(in text: String) -> String? {
        for (offset, line) in text.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated() {
            var rest = line.drop { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }
            guard rest.first == UInt8(ascii: "[") else { continue }
            rest = rest.dropFirst()
            if rest.first == UInt8(ascii: "[") { rest = rest.dropFirst() }
            rest = rest.drop { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }
            // The end of the line counts as a bad first character: toml++ asserts on `[` before a newline too.
            if let first = rest.first, canStartKey(first) { continue }
            return "line \(offset + 1): a table name must start with a letter, a digit, '_', '-' or a quote"
        }
        return nil
    }

    /// What toml++ accepts at the start of a table header's key, and `]`, which it reports properly.
    private static func canStartKey(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"): true
        case UInt8(ascii: "_"), UInt8(ascii: "-"), UInt8(ascii: "\""), UInt8(ascii: "'"), UInt8(ascii: "]"): true
        default: false
        }
    }
}
