/// Splits FHIRPath text into tokens, following the lexical rules of the N1 grammar: identifiers,
/// `` `delimited` `` identifiers, strings with escapes, numbers, `@` date/time literals, `%` and `$`
/// names, symbols, whitespace and both kinds of comment.
struct FHIRPathLexer {
    private let scalars: [Unicode.Scalar]
    private var index = 0
    private var line = 1
    private var lineStart = 0

    private init(_ source: String) { scalars = Array(source.unicodeScalars) }

    static func tokens(of source: String) throws(FHIRPathError) -> [FHIRPathToken] {
        var lexer = FHIRPathLexer(source)
        var tokens: [FHIRPathToken] = []
        while true {
            let token = try lexer.next()
            tokens.append(token)
            if token.kind == .end { return tokens }
        }
    }

    // MARK: - Reading

    private var position: FHIRPathPosition {
        FHIRPathPosition(offset: index, line: line, column: index - lineStart + 1)
    }

    private func peek(_ ahead: Int = 0) -> Unicode.Scalar? {
        index + ahead < scalars.count ? scalars[index + ahead] : nil
    }

    private mutating func advance() {
        if scalars[index] == "\n" {
            line += 1
            lineStart = index + 1
        }
        index += 1
    }

    private func error(_ message: String, at position: FHIRPathPosition) -> FHIRPathError {
        FHIRPathError(.syntax, message, at: position)
    }

    private static func isDigit(_ scalar: Unicode.Scalar?) -> Bool {
        guard let scalar else { return false }
        return scalar >= "0" && scalar <= "9"
    }

    private static func isIdentifierStart(_ scalar: Unicode.Scalar?) -> Bool {
        guard let scalar else { return false }
        return (scalar >= "a" && scalar <= "z") || (scalar >= "A" && scalar <= "Z") || scalar == "_"
    }

    private static func isIdentifierPart(_ scalar: Unicode.Scalar?) -> Bool { isIdentifierStart(scalar) || isDigit(scalar) }

    // MARK: - Tokens

    private mutating func next() throws(FHIRPathError) -> FHIRPathToken {
        try skipWhitespaceAndComments()
        let start = position
        guard let scalar = peek() else { return FHIRPathToken(kind: .end, position: start) }
        let kind: FHIRPathToken.Kind
        switch scalar {
        case "'": kind = .string(try quoted(by: "'"))
        case "`": kind = .delimitedIdentifier(try quoted(by: "`"))
        case "@": kind = try dateOrTime()
        case "%": kind = try environmentVariable()
        case "$":
            advance()
            guard Self.isIdentifierStart(peek()) else { throw error("expected 'this', 'index' or 'total' after '$'", at: start) }
            let name = identifier()
            guard ["this", "index", "total"].contains(name) else {
                throw error("unknown special variable '$\(name)'; FHIRPath has $this, $index and $total", at: start)
            }
            kind = .special(name)
        case _ where Self.isDigit(scalar): kind = .number(number())
        case _ where Self.isIdentifierStart(scalar): kind = .identifier(identifier())
        default: kind = .symbol(try symbol())
        }
        return FHIRPathToken(kind: kind, position: start)
    }

    private mutating func skipWhitespaceAndComments() throws(FHIRPathError) {
        while let scalar = peek() {
            switch scalar {
            case " ", "\t", "\r", "\n":
                advance()
            case "/" where peek(1) == "/":
                while let next = peek(), next != "\n" { advance() }
            case "/" where peek(1) == "*":
                let start = position
                advance()
                advance()
                while true {
                    guard peek() != nil else { throw error("comment '/*' is never closed with '*/'", at: start) }
                    if peek() == "*", peek(1) == "/" {
                        advance()
                        advance()
                        break
                    }
                    advance()
                }
            default:
                return
            }
        }
    }

    private mutating func identifier() -> String {
        var text = String.UnicodeScalarView()
        while Self.isIdentifierPart(peek()), let scalar = peek() {
            text.append(scalar)
            advance()
        }
        return String(text)
    }

    /// Digits, then a fraction only when a digit follows the point (so `78.ln()` is 78 then `.ln()`).
    private mutating func number() -> String {
        var text = String.UnicodeScalarView()
        while Self.isDigit(peek()), let scalar = peek() {
            text.append(scalar)
            advance()
        }
        if peek() == ".", Self.isDigit(peek(1)) {
            text.append(".")
            advance()
            while Self.isDigit(peek()), let scalar = peek() {
                text.append(scalar)
                advance()
            }
        }
        return String(text)
    }

    /// A string or delimited identifier. The grammar's escapes are `\'` `` \` `` `\"` `\\` `\/` `\f` `\n`
    /// `\r` `\t` and `\uXXXX`. Any other backslash is kept as written, because published forms put
    /// regular expressions such as `'\d{3}'` in strings without doubling the backslash.
    private mutating func quoted(by delimiter: Unicode.Scalar) throws(FHIRPathError) -> String {
        let start = position
        advance()
        var text = String.UnicodeScalarView()
        while true {
            guard let scalar = peek() else {
                let what = delimiter == "'" ? "string" : "delimited identifier"
                throw error("\(what) is never closed with \(delimiter)", at: start)
            }
            if scalar == delimiter {
                advance()
                return String(text)
            }
            guard scalar == "\\" else {
                text.append(scalar)
                advance()
                continue
            }
            let escapeStart = position
            advance()
            guard let escaped = peek() else { continue }
            switch escaped {
            case "'", "`", "\"", "\\", "/": text.append(escaped)
            case "f": text.append("\u{0C}")
            case "n": text.append("\n")
            case "r": text.append("\r")
            case "t": text.append("\t")
            case "u":
                advance()
                text.append(try unicodeEscape(at: escapeStart))
                continue
            default:
                text.append("\\")
                text.append(escaped)
            }
            advance()
        }
    }

    /// The four hex digits after `\u` (the `u` already read), joining a surrogate pair when one follows.
    private mutating func unicodeEscape(at start: FHIRPathPosition) throws(FHIRPathError) -> Unicode.Scalar {
        let first = try hex4(at: start)
        if (0xD800...0xDBFF).contains(first), peek() == "\\", peek(1) == "u" {
            advance()
            advance()
            let second = try hex4(at: start)
            if (0xDC00...0xDFFF).contains(second),
                let scalar = Unicode.Scalar(0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00))
            {
                return scalar
            }
            throw error("'\\u' escape is half of a surrogate pair", at: start)
        }
        guard let scalar = Unicode.Scalar(first) else { throw error("'\\u' escape is half of a surrogate pair", at: start) }
        return scalar
    }

    private mutating func hex4(at start: FHIRPathPosition) throws(FHIRPathError) -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard let scalar = peek(), let digit = Self.hexDigit(scalar) ?? Self.hexLetter(scalar) else {
                throw error("'\\u' must be followed by four hexadecimal digits", at: start)
            }
            value = value << 4 | digit
            advance()
        }
        return value
    }

    private static func hexDigit(_ scalar: Unicode.Scalar) -> UInt32? {
        scalar >= "0" && scalar <= "9" ? scalar.value - 0x30 : nil
    }

    private static func hexLetter(_ scalar: Unicode.Scalar) -> UInt32? {
        switch scalar {
        case "a"..."f": scalar.value - 0x61 + 10
        case "A"..."F": scalar.value - 0x41 + 10
        default: nil
        }
    }

    private mutating func environmentVariable() throws(FHIRPathError) -> FHIRPathToken.Kind {
        let start = position
        advance()
        switch peek() {
        case "`": return .environmentVariable(try quoted(by: "`"))
        case "'": return .environmentVariable(try quoted(by: "'"))
        case let scalar where Self.isIdentifierStart(scalar): return .environmentVariable(identifier())
        default: throw error("expected a variable name after '%'", at: start)
        }
    }

    // MARK: - Dates and times

    /// `@T` TIME, or `@` DATE, or `@` DATE `T` [TIME] [zone]. Only the shape is checked here; the
    /// parser checks the ranges (month 1–12 …) when it turns the text into a value.
    private mutating func dateOrTime() throws(FHIRPathError) -> FHIRPathToken.Kind {
        let start = position
        advance()
        if peek() == "T" {
            advance()
            guard let time = timeOfDay() else { throw error("expected a time such as @T10:30 after '@T'", at: start) }
            return .time(time)
        }
        guard let year = digits(4) else { throw error("expected a date such as @2024-01-31 or a time such as @T10:30 after '@'", at: start) }
        var text = year
        if peek() == "-", Self.isDigit(peek(1)) {
            advance()
            guard let month = digits(2) else { throw error("a month has two digits", at: start) }
            text += "-" + month
            if peek() == "-", Self.isDigit(peek(1)) {
                advance()
                guard let day = digits(2) else { throw error("a day has two digits", at: start) }
                text += "-" + day
            }
        }
        guard peek() == "T" else { return .date(text) }
        advance()
        text += "T"
        if Self.isDigit(peek()) {
            guard let time = timeOfDay() else { throw error("expected a time of day after 'T'", at: start) }
            text += time
        }
        if let zone = timeZone() { text += zone }
        return .dateTime(text)
    }

    /// `hh[:mm[:ss[.fff]]]`.
    private mutating func timeOfDay() -> String? {
        guard var text = digits(2) else { return nil }
        if peek() == ":", Self.isDigit(peek(1)) {
            advance()
            guard let minute = digits(2) else { return nil }
            text += ":" + minute
            if peek() == ":", Self.isDigit(peek(1)) {
                advance()
                guard let second = digits(2) else { return nil }
                text += ":" + second
                if peek() == ".", Self.isDigit(peek(1)) {
                    advance()
                    text += "."
                    while Self.isDigit(peek()), let scalar = peek() {
                        text.unicodeScalars.append(scalar)
                        advance()
                    }
                }
            }
        }
        return text
    }

    /// `Z`, or `+hh:mm` / `-hh:mm` when exactly that shape follows (so `@2024T10:00 - 1 hour` still subtracts).
    private mutating func timeZone() -> String? {
        if peek() == "Z" {
            advance()
            return "Z"
        }
        guard let sign = peek(), sign == "+" || sign == "-", Self.isDigit(peek(1)), Self.isDigit(peek(2)), peek(3) == ":",
            Self.isDigit(peek(4)), Self.isDigit(peek(5))
        else { return nil }
        var text = String.UnicodeScalarView()
        for _ in 0..<6 {
            if let scalar = peek() { text.append(scalar) }
            advance()
        }
        return String(text)
    }

    private mutating func digits(_ count: Int) -> String? {
        var text = String.UnicodeScalarView()
        for _ in 0..<count {
            guard Self.isDigit(peek()), let scalar = peek() else { return nil }
            text.append(scalar)
            advance()
        }
        return String(text)
    }

    // MARK: - Symbols

    private mutating func symbol() throws(FHIRPathError) -> FHIRPathToken.Symbol {
        let start = position
        guard let scalar = peek() else { throw error("unexpected end of the expression", at: start) }
        advance()
        let following = peek()
        switch (scalar, following) {
        case ("!", "="?):
            advance()
            return .notEqual
        case ("!", "~"?):
            advance()
            return .notEquivalent
        case ("<", "="?):
            advance()
            return .lessOrEqual
        case (">", "="?):
            advance()
            return .greaterOrEqual
        default:
            guard let symbol = FHIRPathToken.Symbol(rawValue: String(scalar)) else {
                throw error("unexpected character '\(scalar.escaped(asASCII: false))'", at: start)
            }
            return symbol
        }
    }
}
