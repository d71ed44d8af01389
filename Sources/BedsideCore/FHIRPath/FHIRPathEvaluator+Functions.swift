/// One function invocation being evaluated.
struct FHIRPathCall {
    let function: FHIRPathFunction
    /// The collection the function is invoked on (`$this` when written without a base).
    let input: [FHIRPathValue]
    let arguments: [FHIRPathSyntax]
    /// The scope the invocation is written in; plain arguments are evaluated in it.
    let scope: FHIRPathScope
    /// Whether the call was written `base.fn()` rather than `fn()`.
    let hasBase: Bool
    let position: FHIRPathPosition

    /// How the function reads in an error message.
    var name: String { "'\(function.rawValue)()'" }
}

/// Dispatches a call to the family that implements it, and the argument helpers they share.
extension FHIRPathEvaluator {
    func call(_ call: FHIRPathCall) throws(FHIRPathError) -> [FHIRPathValue] {
        switch call.function {
        case .empty, .exists, .all, .allTrue, .anyTrue, .allFalse, .anyFalse, .subsetOf, .supersetOf, .count, .distinct, .isDistinct:
            return try existence(call)
        case .where, .select, .repeat, .ofType:
            return try filtering(call)
        case .single, .first, .last, .tail, .skip, .take, .intersect, .exclude, .union, .combine:
            return try subsetting(call)
        case .iif:
            return try conditional(call)
        case .not, .is, .as, .trace, .today, .now, .timeOfDay:
            return try utility(call)
        case .toBoolean, .convertsToBoolean, .toInteger, .convertsToInteger, .toDecimal, .convertsToDecimal, .toString, .convertsToString,
            .toDate, .convertsToDate, .toDateTime, .convertsToDateTime, .toTime, .convertsToTime, .toQuantity, .convertsToQuantity:
            return try conversion(call)
        case .indexOf, .substring, .startsWith, .endsWith, .contains, .upper, .lower, .replace, .matches, .replaceMatches, .length,
            .toChars, .trim, .split, .join:
            return try strings(call)
        case .abs, .ceiling, .exp, .floor, .ln, .log, .power, .round, .sqrt, .truncate:
            return try math(call)
        case .sum, .min, .max, .avg, .aggregate:
            return try aggregates(call)
        case .children, .descendants, .extension, .hasValue:
            return try tree(call)
        case .ordinal, .weight, .answerOption, .answers:
            return try questionnaireFunctions(call)
        }
    }

    // MARK: - Arguments

    /// Argument `index` evaluated where the call is written; `nil` if it was not given.
    func argument(_ index: Int, of call: FHIRPathCall) throws(FHIRPathError) -> [FHIRPathValue]? {
        guard call.arguments.indices.contains(index) else { return nil }
        return try evaluate(call.arguments[index], in: call.scope)
    }

    /// Argument `index` evaluated with `$this` set to one item of the input (for `where`, `select` …).
    func argument(_ index: Int, of call: FHIRPathCall, for item: FHIRPathValue, at itemIndex: Int) throws(FHIRPathError) -> [FHIRPathValue] {
        guard call.arguments.indices.contains(index) else { return [] }
        return try evaluate(call.arguments[index], in: call.scope.iterating(item, at: itemIndex))
    }

    func integerArgument(_ index: Int, of call: FHIRPathCall) throws(FHIRPathError) -> Int? {
        guard let value = try argument(index, of: call) else { return nil }
        return try integer(value, for: "the argument of \(call.name)", at: call.arguments[index].position)
    }

    func stringArgument(_ index: Int, of call: FHIRPathCall) throws(FHIRPathError) -> String? {
        guard let value = try argument(index, of: call) else { return nil }
        return try string(value, for: "the argument of \(call.name)", at: call.arguments[index].position)
    }

    /// The type named by the argument of `ofType()`, `is()` or `as()`.
    func typeArgument(of call: FHIRPathCall) throws(FHIRPathError) -> FHIRPathTypeSpecifier {
        guard let first = call.arguments.first, case .typeName(let type) = first.kind else {
            throw failure("\(call.name) needs a type name", at: call.position)
        }
        return type
    }

    /// The one input item of a function that works on a single value; `nil` when the input is empty.
    func singleInput(_ call: FHIRPathCall) throws(FHIRPathError) -> FHIRPathValue? {
        try single(call.input, for: call.name, at: call.position)
    }
}
