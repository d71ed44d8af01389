/// A FHIRPath expression, read once and evaluated as often as needed.
///
/// ```swift
/// let total = try FHIRPathExpression("%resource.repeat(item).answer.value.ordinal().sum()")
/// let result = try total.evaluate(FHIRPathContext(resource: response, questionnaire: form, now: clock.now()))
/// ```
///
/// Reading fails with a `FHIRPathError` that gives the position for a syntax error and names any
/// function the engine does not support; evaluation fails on what FHIRPath calls an error (several
/// items where one is needed, operands that do not combine …) and returns `[]` for "no value".
public struct FHIRPathExpression: Sendable, CustomStringConvertible {
    /// How deeply an expression may nest (operators, parentheses, calls and arguments together).
    /// Real forms stay far below it; the limit keeps evaluation from exhausting the stack.
    public static let maximumDepth = 64

    /// The expression as written.
    public let source: String
    let syntax: FHIRPathSyntax

    public init(_ source: String) throws(FHIRPathError) {
        self.source = source
        syntax = try FHIRPathParser.parse(source, maximumDepth: Self.maximumDepth)
    }

    public var description: String { source }

    /// The collection the expression gives in `context`.
    public func evaluate(_ context: FHIRPathContext) throws(FHIRPathError) -> [FHIRPathValue] {
        let evaluator = FHIRPathEvaluator(context: context)
        return try evaluator.evaluate(syntax, in: evaluator.rootScope)
    }

    /// The result read as a condition, as `enableWhenExpression` needs: `nil` when empty, the value of
    /// a single Boolean, `true` for any other single item; several items are an error.
    public func evaluateCondition(_ context: FHIRPathContext) throws(FHIRPathError) -> Bool? {
        let evaluator = FHIRPathEvaluator(context: context)
        let result = try evaluator.evaluate(syntax, in: evaluator.rootScope)
        return try evaluator.condition(result, for: "the expression", at: syntax.position)
    }
}
