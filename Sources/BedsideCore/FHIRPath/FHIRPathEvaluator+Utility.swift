/// `iif() not() is() as() trace() today() now() timeOfDay()`.
extension FHIRPathEvaluator {
    func utility(_ call: FHIRPathCall) throws(FHIRPathError) -> [FHIRPathValue] {
        switch call.function {
        case .not:
            guard let flag = try condition(call.input, for: call.name, at: call.position) else { return [] }
            return [.boolean(!flag)]
        case .is:
            let type = try typeArgument(of: call)
            guard let item = try singleInput(call) else { return [] }
            return [.boolean(type.matches(item))]
        case .as:
            let type = try typeArgument(of: call)
            guard let item = try singleInput(call) else { return [] }
            return type.matches(item) ? [item] : []
        case .trace:
            return call.input
        case .today:
            return [.date(localNow().date)]
        case .now:
            return [.dateTime(localNow())]
        default:  // timeOfDay
            let now = localNow()
            return [.time(FHIRPathTime(hour: now.hour, minute: now.minute, second: now.second, millisecond: now.millisecond, precision: .millisecond))]
        }
    }

    /// `iif(criterion, true-result [, otherwise-result])`: only the branch taken is evaluated. Written on
    /// a base (`x.iif(…)`), the base must be at most one item and is `$this` inside the arguments.
    func conditional(_ call: FHIRPathCall) throws(FHIRPathError) -> [FHIRPathValue] {
        var scope = call.scope
        if call.hasBase {
            guard call.input.count <= 1 else {
                throw failure("'iif()' needs a single input item, but got a collection of \(call.input.count)", at: call.position)
            }
            scope = FHIRPathScope(this: call.input, index: 0, total: scope.total)
        }
        let test = try condition(try evaluate(call.arguments[0], in: scope), for: "the criterion of 'iif()'", at: call.arguments[0].position)
        if test == true { return try evaluate(call.arguments[1], in: scope) }
        guard call.arguments.count > 2 else { return [] }
        return try evaluate(call.arguments[2], in: scope)
    }

    /// The context's clock, in its local offset.
    private func localNow() -> FHIRPathDateTime {
        FHIRPathDateTime(epochMilliseconds: context.now, utcOffsetSeconds: defaultOffset)
    }
}
