/// `+ - * / div mod` on integers, decimals, quantities, strings (`+` only) and dates with durations.
/// An empty operand gives empty; overflow and division by zero give empty (FHIRPath's rule);
/// operands that do not combine are an error.
extension FHIRPathEvaluator {
    func arithmetic(
        _ arithmeticOperator: FHIRPathBinaryOperator, _ lhs: [FHIRPathValue], _ rhs: [FHIRPathValue], at position: FHIRPathPosition
    ) throws(FHIRPathError) -> [FHIRPathValue] {
        let what = "'\(arithmeticOperator.rawValue)'"
        guard let left = try single(lhs, for: what, at: position), let right = try single(rhs, for: what, at: position) else { return [] }
        let result: FHIRPathValue??
        switch (left, right) {
        case (.integer(let a), .integer(let b)):
            result = integerArithmetic(arithmeticOperator, a, b)
        case (.string(let a), .string(let b)) where arithmeticOperator == .add:
            result = FHIRPathValue.string(a + b)
        case (.date(let date), .quantity(let quantity)), (.dateTime(let date), .quantity(let quantity)):
            result = dateArithmetic(arithmeticOperator, date, quantity, dateOnly: left.isDate)
        case (.time(let time), .quantity(let quantity)):
            result = timeArithmetic(arithmeticOperator, time, quantity)
        default:
            if let a = left.decimalValue, let b = right.decimalValue {
                result = decimalArithmetic(arithmeticOperator, a, b).map { $0.map(FHIRPathValue.decimal) }
            } else {
                result = quantityArithmetic(arithmeticOperator, left, right)
            }
        }
        guard let result else {
            throw failure("\(what) cannot combine \(left.typeName) with \(right.typeName)", at: position)
        }
        return result.map { [$0] } ?? []
    }

    // Each returns `nil` when the operator does not apply to these kinds, `.some(nil)` for an empty result.

    private func integerArithmetic(_ arithmeticOperator: FHIRPathBinaryOperator, _ a: Int, _ b: Int) -> FHIRPathValue?? {
        let outcome: (partialValue: Int, overflow: Bool)
        switch arithmeticOperator {
        case .add: outcome = a.addingReportingOverflow(b)
        case .subtract: outcome = a.subtractingReportingOverflow(b)
        case .multiply: outcome = a.multipliedReportingOverflow(by: b)
        case .div:
            guard b != 0 else { return .some(nil) }
            outcome = a.dividedReportingOverflow(by: b)
        case .mod:
            guard b != 0 else { return .some(nil) }
            outcome = a.remainderReportingOverflow(dividingBy: b)
        case .divide:
            return .some(FHIRPathDecimal(a).divided(by: FHIRPathDecimal(b)).map(FHIRPathValue.decimal))
        default:
            return nil
        }
        return .some(outcome.overflow ? nil : .integer(outcome.partialValue))
    }

    private func decimalArithmetic(_ arithmeticOperator: FHIRPathBinaryOperator, _ a: FHIRPathDecimal, _ b: FHIRPathDecimal) -> FHIRPathDecimal?? {
        switch arithmeticOperator {
        case .add: .some(a.adding(b))
        case .subtract: .some(a.subtracting(b))
        case .multiply: .some(a.multiplied(by: b))
        case .divide: .some(a.divided(by: b))
        case .div: .some(a.truncatingDivision(by: b))
        case .mod: .some(a.remainder(dividingBy: b))
        default: nil
        }
    }

    private func dateArithmetic(
        _ arithmeticOperator: FHIRPathBinaryOperator, _ date: FHIRPathDateTime, _ quantity: FHIRPathQuantity, dateOnly: Bool
    ) -> FHIRPathValue?? {
        guard arithmeticOperator == .add || arithmeticOperator == .subtract else { return nil }
        let amount = arithmeticOperator == .add ? quantity : FHIRPathQuantity(value: -quantity.value, unit: quantity.unit)
        guard let moved = date.adding(amount) else { return .some(nil) }
        return .some(dateOnly ? .date(moved) : .dateTime(moved))
    }

    private func timeArithmetic(_ arithmeticOperator: FHIRPathBinaryOperator, _ time: FHIRPathTime, _ quantity: FHIRPathQuantity) -> FHIRPathValue?? {
        guard arithmeticOperator == .add || arithmeticOperator == .subtract else { return nil }
        let amount = arithmeticOperator == .add ? quantity : FHIRPathQuantity(value: -quantity.value, unit: quantity.unit)
        return .some(time.adding(amount).map(FHIRPathValue.time))
    }

    /// Quantities: `+`/`-` in the left operand's unit, `*`/`/` by a number, and `/` of like quantities (a ratio, unit '1').
    private func quantityArithmetic(_ arithmeticOperator: FHIRPathBinaryOperator, _ left: FHIRPathValue, _ right: FHIRPathValue) -> FHIRPathValue?? {
        switch (left.quantityValue, right.quantityValue, arithmeticOperator) {
        case (let a?, let b?, .add), (let a?, let b?, .subtract):
            guard let converted = b.converted(to: a.unit) else { return nil }
            let value = arithmeticOperator == .add ? a.value.adding(converted.value) : a.value.subtracting(converted.value)
            return .some(value.map { .quantity(FHIRPathQuantity(value: $0, unit: a.unit)) })
        case (let a?, let b?, .divide):
            guard let converted = b.converted(to: a.unit) else { return nil }
            return .some(a.value.divided(by: converted.value).map { .quantity(FHIRPathQuantity(value: $0, unit: "1")) })
        case (let a?, nil, .multiply), (let a?, nil, .divide):
            guard let number = right.decimalValue else { return nil }
            let value = arithmeticOperator == .multiply ? a.value.multiplied(by: number) : a.value.divided(by: number)
            return .some(value.map { .quantity(FHIRPathQuantity(value: $0, unit: a.unit)) })
        case (nil, let b?, .multiply):
            guard let number = left.decimalValue else { return nil }
            return .some(number.multiplied(by: b.value).map { .quantity(FHIRPathQuantity(value: $0, unit: b.unit)) })
        default:
            return nil
        }
    }
}

extension FHIRPathValue {
    var isDate: Bool {
        if case .date = self { return true }
        return false
    }
}
