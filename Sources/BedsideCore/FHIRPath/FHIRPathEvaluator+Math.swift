/// `abs() ceiling() floor() truncate() round() exp() ln() log() power() sqrt()` on one number.
/// Rounding and whole powers are exact; `exp`, `ln`, `log`, `sqrt` and fractional powers go through
/// `Double` (about 16 significant digits). Results that do not exist (`(-1).sqrt()`) are empty.
extension FHIRPathEvaluator {
    func math(_ call: FHIRPathCall) throws(FHIRPathError) -> [FHIRPathValue] {
        guard let item = try singleInput(call) else { return [] }
        if call.function == .abs, case .quantity(let quantity) = item {
            return [.quantity(FHIRPathQuantity(value: quantity.value.magnitude, unit: quantity.unit))]
        }
        guard let number = item.decimalValue else { throw failure("\(call.name) works on a number, not \(item.typeName)", at: call.position) }
        let isInteger = if case .integer = item { true } else { false }
        switch call.function {
        case .abs:
            if case .integer(let integer) = item {
                return integer == .min ? [] : [.integer(Swift.abs(integer))]
            }
            return [.decimal(number.magnitude)]
        case .ceiling:
            return [Self.integral(number.ceiling())]
        case .floor:
            return [Self.integral(number.floor())]
        case .truncate:
            return [Self.integral(number.truncated())]
        case .round:
            let places = try integerArgument(0, of: call) ?? 0
            guard places >= 0 else { throw failure("'round()' needs a precision of 0 or more, not \(places)", at: call.position) }
            return isInteger ? [item] : [.decimal(number.rounded(toPlaces: places))]
        case .power:
            return try power(item, call)
        default:
            var base: Double? = nil
            if call.function == .log, let argument = try argument(0, of: call) {
                base = try single(argument, for: "the base of 'log()'", at: call.arguments[0].position)?.decimalValue?.doubleValue
            }
            return Self.transcendental(call.function, number.doubleValue, base: base)
        }
    }

    /// A whole number as an Integer when it fits, else as a Decimal.
    private static func integral(_ value: FHIRPathDecimal) -> FHIRPathValue {
        value.intValue.map(FHIRPathValue.integer) ?? .decimal(value)
    }

    /// `power(exponent)`: exact for whole exponents (an Integer for an Integer base and exponent ≥ 0).
    private func power(_ base: FHIRPathValue, _ call: FHIRPathCall) throws(FHIRPathError) -> [FHIRPathValue] {
        guard let exponentItem = try single(try argument(0, of: call) ?? [], for: "the exponent of 'power()'", at: call.arguments[0].position),
            let exponent = exponentItem.decimalValue, let baseValue = base.decimalValue
        else { return [] }
        if let whole = exponent.intValue, Swift.abs(whole) <= 10_000 {
            guard let result = baseValue.raised(to: whole) else { return [] }
            if case .integer = base, case .integer = exponentItem, whole >= 0 {
                return [Self.integral(result)]
            }
            return [.decimal(result)]
        }
        let result = FHIRPathMath.power(baseValue.doubleValue, exponent.doubleValue)
        return FHIRPathDecimal(result).map { [.decimal($0)] } ?? []
    }

    private static func transcendental(_ function: FHIRPathFunction, _ value: Double, base: Double?) -> [FHIRPathValue] {
        let result: Double
        switch function {
        case .exp:
            result = FHIRPathMath.exponential(value)
        case .ln:
            guard value > 0 else { return [] }
            result = FHIRPathMath.naturalLogarithm(value)
        case .log:
            guard value > 0, let base, base > 0, base != 1 else { return [] }
            result = FHIRPathMath.naturalLogarithm(value) / FHIRPathMath.naturalLogarithm(base)
        default:  // sqrt
            guard value >= 0 else { return [] }
            result = value.squareRoot()
        }
        return FHIRPathDecimal(result).map { [.decimal($0)] } ?? []
    }
}
