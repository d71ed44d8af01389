/// Builds the syntax tree of an expression by recursive descent with precedence climbing, following
/// the FHIRPath N1 grammar. Function names are checked against `FHIRPathFunction` here, so an
/// unsupported function is reported when the expression is read.
struct FHIRPathParser {
    private let tokens: [FHIRPathToken]
    private let maximumDepth: Int
    private var index = 0
    /// How many parentheses, indexers and argument lists enclose the current point.
    private var nesting = 0

    private init(tokens: [FHIRPathToken], maximumDepth: Int) {
        self.tokens = tokens
        self.maximumDepth = maximumDepth
    }

    static func parse(_ source: String, maximumDepth: Int) throws(FHIRPathError) -> FHIRPathSyntax {
        var parser = FHIRPathParser(tokens: try FHIRPathLexer.tokens(of: source), maximumDepth: maximumDepth)
        if parser.current.kind == .end { throw FHIRPathError(.syntax, "the expression is empty", at: parser.current.position) }
        let syntax = try parser.binary(minimumPrecedence: 0)
        guard parser.current.kind == .end else {
            throw parser.error("expected an operator or the end of the expression, found \(parser.current.quoted)")
        }
        return syntax
    }

    // MARK: - Tokens

    /// The token list always ends with `.end`, which is never consumed.
    private var current: FHIRPathToken { tokens[min(index, tokens.count - 1)] }

    private mutating func advance() {
        if index < tokens.count - 1 { index += 1 }
    }

    private func isSymbol(_ symbol: FHIRPathToken.Symbol) -> Bool { current.kind == .symbol(symbol) }

    private mutating func consume(_ symbol: FHIRPathToken.Symbol) -> Bool {
        guard isSymbol(symbol) else { return false }
        advance()
        return true
    }

    private mutating func expect(_ symbol: FHIRPathToken.Symbol, _ context: @autoclosure () -> String) throws(FHIRPathError) {
        guard consume(symbol) else { throw error("expected '\(symbol.rawValue)' \(context()), found \(current.quoted)") }
    }

    @inline(never)
    private func error(_ message: String, at position: FHIRPathPosition? = nil) -> FHIRPathError {
        FHIRPathError(.syntax, message, at: position ?? current.position)
    }

    // MARK: - Depth

    @inline(never)
    private func node(_ kind: FHIRPathSyntax.Kind, at position: FHIRPathPosition, children: [FHIRPathSyntax] = []) throws(FHIRPathError) -> FHIRPathSyntax {
        let syntax = FHIRPathSyntax(kind, at: position, children: children)
        guard syntax.depth <= maximumDepth else { throw tooDeep(at: position) }
        return syntax
    }

    private mutating func enter(at position: FHIRPathPosition) throws(FHIRPathError) {
        nesting += 1
        guard nesting <= maximumDepth else { throw tooDeep(at: position) }
    }

    private mutating func leave() { nesting -= 1 }

    @inline(never)
    private func tooDeep(at position: FHIRPathPosition) -> FHIRPathError {
        FHIRPathError(.tooDeep, "the expression nests deeper than \(maximumDepth) levels", at: position)
    }

    // MARK: - Expressions

    private mutating func binary(minimumPrecedence: Int) throws(FHIRPathError) -> FHIRPathSyntax {
        var left = try operand()
        while true {
            let token = current
            if let typeOperator = Self.typeOperator(token) {
                guard FHIRPathBinaryOperator.typePrecedence >= minimumPrecedence else { break }
                left = try typeTest(typeOperator, left, at: token.position)
                continue
            }
            guard let binaryOperator = Self.binaryOperator(token), binaryOperator.precedence >= minimumPrecedence else { break }
            advance()
            let right = try binary(minimumPrecedence: binaryOperator.precedence + 1)
            left = try node(.binary(binaryOperator, left, right), at: token.position, children: [left, right])
        }
        return left
    }

    /// `left is Type` or `left as Type`, the operator being the current token.
    @inline(never)
    private mutating func typeTest(_ typeOperator: FHIRPathTypeOperator, _ left: FHIRPathSyntax, at position: FHIRPathPosition) throws(FHIRPathError) -> FHIRPathSyntax {
        advance()
        let type = try typeSpecifier(after: "'\(typeOperator.rawValue)'")
        return try node(.typeTest(typeOperator, left, type), at: position, children: [left])
    }

    private static func typeOperator(_ token: FHIRPathToken) -> FHIRPathTypeOperator? {
        guard case .identifier(let word) = token.kind else { return nil }
        return FHIRPathTypeOperator(rawValue: word)
    }

    private static let keywordOperators: [String: FHIRPathBinaryOperator] = [
        "div": .div, "mod": .mod, "in": .in, "contains": .contains, "and": .and, "or": .or, "xor": .xor, "implies": .implies,
    ]

    private static func binaryOperator(_ token: FHIRPathToken) -> FHIRPathBinaryOperator? {
        switch token.kind {
        case .symbol(let symbol): FHIRPathBinaryOperator(rawValue: symbol.rawValue)
        case .identifier(let word): keywordOperators[word]
        default: nil
        }
    }

    /// Prefix signs, a term, then any number of `.invocation` and `[index]` (which bind tighter than
    /// the signs: `-5.abs()` is `-(5.abs())`). Signs are read in a loop and parentheses handled here, so
    /// each level of nesting costs only this frame and `binary`'s.
    private mutating func operand() throws(FHIRPathError) -> FHIRPathSyntax {
        var signs: [FHIRPathToken] = []
        while case .symbol(let symbol) = current.kind, FHIRPathUnaryOperator(rawValue: symbol.rawValue) != nil {
            signs.append(current)
            advance()
        }
        var expression: FHIRPathSyntax
        let start = current.position
        if consume(.openParenthesis) {
            try enter(at: start)
            expression = try binary(minimumPrecedence: 0)
            try expect(.closeParenthesis, "to close the '(' at \(start)")
            leave()
        } else {
            expression = try term()
        }
        while true {
            if consume(.dot) {
                expression = try invocation(base: expression)
            } else if isSymbol(.openBracket) {
                expression = try indexer(base: expression)
            } else {
                break
            }
        }
        for sign in signs.reversed() {
            guard case .symbol(let symbol) = sign.kind, let unaryOperator = FHIRPathUnaryOperator(rawValue: symbol.rawValue) else { continue }
            expression = try node(.unary(unaryOperator, expression), at: sign.position, children: [expression])
        }
        return expression
    }

    /// `base[index]`, the current token being `[`.
    @inline(never)
    private mutating func indexer(base: FHIRPathSyntax) throws(FHIRPathError) -> FHIRPathSyntax {
        let start = current.position
        advance()
        try enter(at: start)
        let index = try binary(minimumPrecedence: 0)
        try expect(.closeBracket, "to close the '[' at \(start)")
        leave()
        return try node(.indexer(base: base, index: index), at: start, children: [base, index])
    }

    /// What follows a `.`: a member, a function call or `$this`.
    @inline(never)
    private mutating func invocation(base: FHIRPathSyntax) throws(FHIRPathError) -> FHIRPathSyntax {
        let token = current
        switch token.kind {
        case .identifier(let name), .delimitedIdentifier(let name):
            advance()
            if isSymbol(.openParenthesis) { return try functionCall(name, at: token.position, base: base) }
            return try node(.member(base: base, name: name), at: token.position, children: [base])
        case .special("this"):
            advance()
            return base
        default:
            throw error("expected a name or a function after '.', found \(token.quoted)")
        }
    }

    private mutating func functionCall(_ name: String, at position: FHIRPathPosition, base: FHIRPathSyntax?) throws(FHIRPathError) -> FHIRPathSyntax {
        guard let function = FHIRPathFunction(rawValue: name) else { throw Self.unsupported(name, at: position) }
        advance()  // (
        try enter(at: position)
        var arguments: [FHIRPathSyntax] = []
        if !isSymbol(.closeParenthesis) {
            repeat {
                arguments.append(function.takesTypeName ? try typeArgument(of: function) : try binary(minimumPrecedence: 0))
            } while consume(.comma)
        }
        try expect(.closeParenthesis, "to close the arguments of '\(name)()'")
        leave()
        guard function.arity.contains(arguments.count) else { throw Self.wrongArity(function, arguments.count, at: position) }
        return try node(.function(base: base, function: function, arguments: arguments), at: position, children: (base.map { [$0] } ?? []) + arguments)
    }

    @inline(never)
    private static func unsupported(_ name: String, at position: FHIRPathPosition) -> FHIRPathError {
        FHIRPathError(.unsupportedFunction(name), "the form uses FHIRPath function '\(name)()', which Bedside does not support", at: position)
    }

    @inline(never)
    private static func wrongArity(_ function: FHIRPathFunction, _ count: Int, at position: FHIRPathPosition) -> FHIRPathError {
        FHIRPathError(.syntax, "function '\(function.rawValue)()' takes \(describe(function.arity)), not \(count)", at: position)
    }

    private static func describe(_ arity: ClosedRange<Int>) -> String {
        let noun = arity.upperBound == 1 ? "argument" : "arguments"
        switch (arity.lowerBound, arity.upperBound) {
        case (0, 0): return "no arguments"
        case let (low, high) where low == high: return "\(low) \(noun)"
        case let (low, high) where high == low + 1: return "\(low) or \(high) \(noun)"
        case let (low, high): return "\(low) to \(high) \(noun)"
        }
    }

    // MARK: - Types

    private mutating func typeArgument(of function: FHIRPathFunction) throws(FHIRPathError) -> FHIRPathSyntax {
        let position = current.position
        let type = try typeSpecifier(after: "'\(function.rawValue)('")
        return try node(.typeName(type), at: position)
    }

    /// `Name` or `Namespace.Name`.
    private mutating func typeSpecifier(after context: String) throws(FHIRPathError) -> FHIRPathTypeSpecifier {
        let start = current.position
        var parts: [String] = []
        while true {
            switch current.kind {
            case .identifier(let name), .delimitedIdentifier(let name): parts.append(name)
            default: throw error("expected a type name such as Coding or Quantity after \(context), found \(current.quoted)")
            }
            advance()
            // Only a namespace is followed by a dot; `(value as Quantity).value` ends at the type.
            guard parts.count == 1, parts[0] == "System" || parts[0] == "FHIR", isSymbol(.dot) else { break }
            advance()
        }
        guard let type = FHIRPathTypeSpecifier(parts) else {
            throw error("'\(parts.joined(separator: "."))' is not a type name; qualify types with System. or FHIR.", at: start)
        }
        return type
    }

    // MARK: - Terms

    private static let reservedWords: Set<String> = ["and", "or", "xor", "implies", "div", "mod"]

    /// A name, a function call or a literal (parentheses are handled by `operand`).
    private mutating func term() throws(FHIRPathError) -> FHIRPathSyntax {
        let token = current
        let name: String
        switch token.kind {
        case .identifier(let word) where word != "true" && word != "false" && !Self.reservedWords.contains(word): name = word
        case .delimitedIdentifier(let word): name = word
        default: return try literal(token)
        }
        advance()
        if isSymbol(.openParenthesis) { return try functionCall(name, at: token.position, base: nil) }
        return try node(.member(base: nil, name: name), at: token.position)
    }

    /// The terms that hold no other expression: literals, `%variables`, `$this`, `$index`, `$total`.
    /// Kept out of `term()` so the recursion through parentheses and calls uses little stack.
    @inline(never)
    private mutating func literal(_ token: FHIRPathToken) throws(FHIRPathError) -> FHIRPathSyntax {
        let value: FHIRPathValue
        switch token.kind {
        case .number(let text):
            advance()
            return try number(text, at: token.position)
        case .string(let text):
            value = .string(text)
        case .identifier(let word) where word == "true" || word == "false":
            value = .boolean(word == "true")
        case .date(let text):
            guard let date = FHIRPathDateTime(text), date.isDateOnly else { throw error("'@\(text)' is not a valid date", at: token.position) }
            value = .date(date)
        case .dateTime(let text):
            guard let dateTime = FHIRPathDateTime(text) else { throw error("'@\(text)' is not a valid date and time", at: token.position) }
            value = .dateTime(dateTime)
        case .time(let text):
            guard let time = FHIRPathTime(text) else { throw error("'@T\(text)' is not a valid time", at: token.position) }
            value = .time(time)
        case .environmentVariable(let name):
            advance()
            return try node(.environmentVariable(name), at: token.position)
        case .special(let name):
            advance()
            return try node(name == "this" ? .this : (name == "index" ? .index : .total), at: token.position)
        case .symbol(.openBrace):
            advance()
            guard consume(.closeBrace) else {
                throw error("'{' must be followed by '}': FHIRPath has no list literal, only the empty collection {}", at: token.position)
            }
            return try node(.emptyCollection, at: token.position)
        default:
            throw error("expected a value, a name or '(' but found \(token.quoted)")
        }
        advance()
        return try node(.literal(value), at: token.position)
    }

    /// An integer, a decimal, or a quantity when a unit follows (`5 'kg'`, `3 days`).
    private mutating func number(_ text: String, at position: FHIRPathPosition) throws(FHIRPathError) -> FHIRPathSyntax {
        let unit: String?
        switch current.kind {
        case .string(let ucum):
            unit = ucum
        case .identifier(let word) where FHIRPathUnits.calendarUnit(word) != nil:
            unit = word
        default:
            unit = nil
        }
        if let unit {
            advance()
            guard let value = FHIRPathDecimal(text) else { throw error("the number \(text) is too large", at: position) }
            return try node(.literal(.quantity(FHIRPathQuantity(value: value, unit: unit))), at: position)
        }
        if !text.contains(".") {
            guard let integer = Int(text) else { throw error("the integer \(text) is too large", at: position) }
            return try node(.literal(.integer(integer)), at: position)
        }
        guard let decimal = FHIRPathDecimal(text) else { throw error("the number \(text) is too large", at: position) }
        return try node(.literal(.decimal(decimal)), at: position)
    }
}
