/// A node of a parsed expression: what it is, where it starts in the text, and how deep the tree
/// below it goes (the parser refuses trees deeper than `FHIRPathExpression.maximumDepth`, so the
/// evaluator's recursion is bounded).
struct FHIRPathSyntax: Sendable {
    indirect enum Kind: Sendable {
        case literal(FHIRPathValue)
        /// `{}`
        case emptyCollection
        /// `name`, or `base.name`; without a base it navigates from `$this`.
        case member(base: FHIRPathSyntax?, name: String)
        /// `fn(…)`, or `base.fn(…)`; without a base its input is `$this`.
        case function(base: FHIRPathSyntax?, function: FHIRPathFunction, arguments: [FHIRPathSyntax])
        /// `base[index]`
        case indexer(base: FHIRPathSyntax, index: FHIRPathSyntax)
        /// `%name`
        case environmentVariable(String)
        case this, index, total
        case unary(FHIRPathUnaryOperator, FHIRPathSyntax)
        case binary(FHIRPathBinaryOperator, FHIRPathSyntax, FHIRPathSyntax)
        /// `operand is Type`, `operand as Type`
        case typeTest(FHIRPathTypeOperator, FHIRPathSyntax, FHIRPathTypeSpecifier)
        /// The type argument of `ofType()`, `is()` and `as()`; never evaluated by itself.
        case typeName(FHIRPathTypeSpecifier)
    }

    let kind: Kind
    let position: FHIRPathPosition
    /// 1 for a leaf.
    let depth: Int

    init(_ kind: Kind, at position: FHIRPathPosition, children: [FHIRPathSyntax] = []) {
        self.kind = kind
        self.position = position
        depth = 1 + (children.map(\.depth).max() ?? 0)
    }
}

enum FHIRPathUnaryOperator: String, Sendable {
    case plus = "+", minus = "-"
}

enum FHIRPathTypeOperator: String, Sendable {
    case `is`, `as`
}

/// The binary operators, with the N1 grammar's precedence (higher binds tighter). All associate left.
enum FHIRPathBinaryOperator: String, Sendable {
    case multiply = "*", divide = "/", div, mod
    case add = "+", subtract = "-", concatenate = "&"
    case union = "|"
    case less = "<", greater = ">", lessOrEqual = "<=", greaterOrEqual = ">="
    case equal = "=", equivalent = "~", notEqual = "!=", notEquivalent = "!~"
    case `in`, contains
    case and
    case or, xor
    case implies

    /// `is` and `as` sit between additive (9) and union (7).
    static let typePrecedence = 8

    var precedence: Int {
        switch self {
        case .multiply, .divide, .div, .mod: 10
        case .add, .subtract, .concatenate: 9
        case .union: 7
        case .less, .greater, .lessOrEqual, .greaterOrEqual: 6
        case .equal, .equivalent, .notEqual, .notEquivalent: 5
        case .in, .contains: 4
        case .and: 3
        case .or, .xor: 2
        case .implies: 1
        }
    }
}
