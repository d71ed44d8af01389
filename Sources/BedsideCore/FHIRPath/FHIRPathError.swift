/// Where something is in the text of an expression.
public struct FHIRPathPosition: Sendable, Equatable, CustomStringConvertible {
    /// Unicode scalars before this point, from 0.
    public let offset: Int
    /// From 1.
    public let line: Int
    /// Unicode scalars since the start of the line, from 1.
    public let column: Int

    public init(offset: Int, line: Int, column: Int) {
        self.offset = offset
        self.line = line
        self.column = column
    }

    public var description: String { line == 1 ? "column \(column)" : "line \(line), column \(column)" }
}

/// Why an expression could not be read or evaluated, in words a form author can act on.
public struct FHIRPathError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// The text is not valid FHIRPath.
        case syntax
        /// The expression calls a function this engine does not have; the associated value is its name.
        case unsupportedFunction(String)
        /// The expression nests deeper than `FHIRPathExpression.maximumDepth`.
        case tooDeep
        /// `%name` names neither a built-in environment variable nor one the caller supplied.
        case undefinedVariable(String)
        /// The expression is valid but cannot be evaluated on this data: several items where one is
        /// needed, operands of types that do not combine, a regular expression that does not compile …
        case evaluation
    }

    /// Which kind of problem, for the engine to act on.
    public var kind: Kind { storage.kind }
    /// What went wrong, in a sentence for the form's author.
    public var message: String { storage.message }
    /// Where in the expression; always present for syntax errors.
    public var position: FHIRPathPosition? { storage.position }

    /// The details live in one shared reference, so a thrown error costs a pointer in each stack frame
    /// of the recursive parser and evaluator rather than the whole value.
    private let storage: Storage

    private final class Storage: Sendable {
        let kind: Kind
        let message: String
        let position: FHIRPathPosition?

        init(kind: Kind, message: String, position: FHIRPathPosition?) {
            self.kind = kind
            self.message = message
            self.position = position
        }
    }

    public init(_ kind: Kind, _ message: String, at position: FHIRPathPosition? = nil) {
        storage = Storage(kind: kind, message: message, position: position)
    }

    public static func == (lhs: FHIRPathError, rhs: FHIRPathError) -> Bool {
        lhs.kind == rhs.kind && lhs.message == rhs.message && lhs.position == rhs.position
    }

    public var description: String {
        guard let position else { return "FHIRPath: \(message)" }
        return "FHIRPath at \(position): \(message)"
    }
}
