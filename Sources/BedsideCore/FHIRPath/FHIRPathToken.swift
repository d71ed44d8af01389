/// One lexical unit of a FHIRPath expression.
struct FHIRPathToken: Sendable, Equatable {
    enum Kind: Sendable, Equatable {
        /// A plain identifier; keywords such as `and` or `div` come as identifiers and the parser decides.
        case identifier(String)
        /// A `` `backtick` `` identifier, never a keyword.
        case delimitedIdentifier(String)
        /// A string literal with its escapes resolved.
        case string(String)
        /// An integer or decimal literal as written.
        case number(String)
        /// `@2024-01-02`: the text after `@`.
        case date(String)
        /// `@2024-01-02T10:00`: the text after `@`.
        case dateTime(String)
        /// `@T10:00`: the text after `@T`.
        case time(String)
        /// `%name`, `` %`name` `` or `%'name'`: the name.
        case environmentVariable(String)
        /// `$this`, `$index` or `$total`: the word after `$`.
        case special(String)
        case symbol(Symbol)
        case end
    }

    enum Symbol: String, Sendable {
        case dot = ".", comma = ",", openParenthesis = "(", closeParenthesis = ")", openBracket = "[", closeBracket = "]"
        case openBrace = "{", closeBrace = "}"
        case plus = "+", minus = "-", star = "*", slash = "/", ampersand = "&", pipe = "|"
        case equal = "=", equivalent = "~", notEqual = "!=", notEquivalent = "!~"
        case less = "<", greater = ">", lessOrEqual = "<=", greaterOrEqual = ">="
    }

    let kind: Kind
    let position: FHIRPathPosition

    /// How the token reads in an error message.
    var quoted: String {
        switch kind {
        case .identifier(let name): "'\(name)'"
        case .delimitedIdentifier(let name): "'`\(name)`'"
        case .string(let text): "the string '\(text)'"
        case .number(let text): "the number \(text)"
        case .date(let text), .dateTime(let text): "@\(text)"
        case .time(let text): "@T\(text)"
        case .environmentVariable(let name): "'%\(name)'"
        case .special(let name): "'$\(name)'"
        case .symbol(let symbol): "'\(symbol.rawValue)'"
        case .end: "the end of the expression"
        }
    }
}
