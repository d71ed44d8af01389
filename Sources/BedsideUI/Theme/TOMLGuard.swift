/// Checks TOML text before TOMLKit sees it: only the plain subset Bedside's files use gets through.
///
/// TOMLKit 0.6.0 bundles toml++ with its assertions on, and toml++ asserts (aborting the whole process,
/// release builds included) on some malformed text: a table header starting with `é` or ending its line
/// (`[é]`, `[`), an array holding a `}` (`a = [ }`). The `theme` fuzz target found these three within
/// minutes, so guarding each one would not end it. A typo in a config or theme file must be an error
/// message, never a crash, so the text is checked here against the subset the two formats need: comments,
/// `[table]` headers of bare or quoted keys, and `key = value` lines whose value is a string on one line,
/// a number or a boolean. Everything else (arrays, inline tables, multi-line strings, dates) is refused
/// with the line; neither file has a field that could hold it.
public enum TOMLGuard {
    /// Why `text` is refused (naming the line), or nil when it may be given to TOMLKit.
    public static func problem(in text: String) -> String? {
        for (offset, line) in text.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated() {
            var reader = LineReader(bytes: Array(line))
            if let problem = reader.checkLine() { return "line \(offset + 1): \(problem)" }
        }
        return nil
    }

    private struct LineReader {
        let bytes: [UInt8]
        var index = 0

        init(bytes: [UInt8]) {
            // A Windows line ending is not part of the line.
            self.bytes = bytes.last == UInt8(ascii: "\r") ? Array(bytes.dropLast()) : bytes
        }

        var current: UInt8? { index < bytes.count ? bytes[index] : nil }

        mutating func skipSpace() {
            while current == UInt8(ascii: " ") || current == UInt8(ascii: "\t") { index += 1 }
        }

        mutating func take(_ byte: UInt8) -> Bool {
            guard current == byte else { return false }
            index += 1
            return true
        }

        mutating func checkLine() -> String? {
            skipSpace()
            guard let first = current else { return nil }
            if first == UInt8(ascii: "#") { return checkComment() }
            if take(UInt8(ascii: "[")) {
                let array = take(UInt8(ascii: "["))
                skipSpace()
                if let problem = checkKeyPath() { return "in a [table] name: " + problem }
                skipSpace()
                guard take(UInt8(ascii: "]")), !array || take(UInt8(ascii: "]")) else { return "a [table] name ends with ']'" }
            } else {
                if let problem = checkKeyPath() { return problem }
                skipSpace()
                guard take(UInt8(ascii: "=")) else { return "expected '=' after the key" }
                skipSpace()
                if let problem = checkValue() { return problem }
            }
            skipSpace()
            guard let next = current else { return nil }
            guard next == UInt8(ascii: "#") else { return "unexpected text after the value" }
            return checkComment()
        }

        mutating func checkComment() -> String? {
            while let byte = current {
                if byte < 0x20 && byte != UInt8(ascii: "\t") || byte == 0x7F { return "a control character in a comment" }
                index += 1
            }
            return nil
        }

        /// `a.b."c d".'e'`
        mutating func checkKeyPath() -> String? {
            while true {
                if let problem = checkKey() { return problem }
                skipSpace()
                guard take(UInt8(ascii: ".")) else { return nil }
                skipSpace()
            }
        }

        mutating func checkKey() -> String? {
            switch current {
            case UInt8(ascii: "\""), UInt8(ascii: "'"): return checkString()
            default:
                let start = index
                while let byte = current, Self.isBareKey(byte) { index += 1 }
                return index > start ? nil : "a key is letters, digits, '_' and '-', or quoted"
            }
        }

        mutating func checkValue() -> String? {
            switch current {
            case UInt8(ascii: "\""), UInt8(ascii: "'"):
                return checkString()
            case UInt8(ascii: "t"), UInt8(ascii: "f"):
                for word in ["true", "false"] where bytes[index...].starts(with: word.utf8) {
                    index += word.utf8.count
                    return nil
                }
                return "a value is a \"string\", a number, true or false"
            default:
                return checkNumber()
            }
        }

        /// `[+-]digits[.digits][e[+-]digits]`: what the files' numbers need, without TOML's rarer forms.
        mutating func checkNumber() -> String? {
            let problem = "a value is a \"string\", a number, true or false"
            _ = take(UInt8(ascii: "+")) || take(UInt8(ascii: "-"))
            guard digits() else { return problem }
            if take(UInt8(ascii: ".")), !digits() { return problem }
            if take(UInt8(ascii: "e")) || take(UInt8(ascii: "E")) {
                _ = take(UInt8(ascii: "+")) || take(UInt8(ascii: "-"))
                guard digits() else { return problem }
            }
            return nil
        }

        mutating func digits() -> Bool {
            let start = index
            while let byte = current, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) { index += 1 }
            return index > start
        }

        /// A "basic" string with TOML's escapes, or a 'literal' one, on one line.
        mutating func checkString() -> String? {
            guard let quote = current else { return "a string is missing" }
            index += 1
            // '''…''' and """…""" span lines, which this subset leaves out.
            if current == quote, index + 1 < bytes.count, bytes[index + 1] == quote { return "multi-line strings are not supported here" }
            while let byte = current {
                index += 1
                if byte == quote { return nil }
                if byte < 0x20 && byte != UInt8(ascii: "\t") || byte == 0x7F { return "a control character in a string" }
                guard quote == UInt8(ascii: "\""), byte == UInt8(ascii: "\\") else { continue }
                guard let escape = current else { break }
                index += 1
                switch escape {
                case UInt8(ascii: "b"), UInt8(ascii: "t"), UInt8(ascii: "n"), UInt8(ascii: "f"), UInt8(ascii: "r"), UInt8(ascii: "\""),
                    UInt8(ascii: "\\"):
                    continue
                case UInt8(ascii: "u"), UInt8(ascii: "U"):
                    let count = escape == UInt8(ascii: "u") ? 4 : 8
                    guard index + count <= bytes.count, bytes[index..<index + count].allSatisfy(Self.isHexDigit) else {
                        return "\\\(Character(Unicode.Scalar(escape))) needs \(count) hex digits"
                    }
                    index += count
                default:
                    return "an unknown escape in a string"
                }
            }
            return "a string is not closed on its line"
        }

        static func isBareKey(_ byte: UInt8) -> Bool {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "_"), UInt8(ascii: "-"):
                true
            default: false
            }
        }

        static func isHexDigit(_ byte: UInt8) -> Bool {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "f"), UInt8(ascii: "A")...UInt8(ascii: "F"): true
            default: false
            }
        }
    }
}
