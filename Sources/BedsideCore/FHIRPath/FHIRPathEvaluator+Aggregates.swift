/// `sum() min() max() avg()` (FHIRPath 2.0) and `aggregate()`. Each of the first four gives empty
/// for an empty input, as the specification says (so an unanswered form has no score, not 0).
extension FHIRPathEvaluator {
    func aggregates(_ call: FHIRPathCall) throws(FHIRPathError) -> [FHIRPathValue] {
        switch call.function {
        case .aggregate:
            var total = try argument(1, of: call) ?? []
            for (index, item) in call.input.enumerated() {
                var scope = call.scope.iterating(item, at: index)
                scope.total = total
                total = try evaluate(call.arguments[0], in: scope)
            }
            return total
        case .sum:
            guard !call.input.isEmpty else { return [] }
            return try sum(call).map { [$0] } ?? []
        case .avg:
            guard !call.input.isEmpty, let total = try sum(call) else { return [] }
            let count = FHIRPathDecimal(call.input.count)
            switch total {
            case .quantity(let quantity):
                return quantity.value.divided(by: count).map { [.quantity(FHIRPathQuantity(value: $0, unit: quantity.unit))] } ?? []
            default:
                return total.decimalValue?.divided(by: count).map { [.decimal($0)] } ?? []
            }
        default:  // min, max
            return try extreme(call)
        }
    }

    /// The sum in the input's own type: Integers stay Integers, a Decimal makes it Decimal, Quantities
    /// add in the first one's unit. `nil` on overflow.
    private func sum(_ call: FHIRPathCall) throws(FHIRPathError) -> FHIRPathValue? {
        if call.input.allSatisfy({ if case .integer = $0 { true } else { false } }) {
            var total = 0
            for case .integer(let value) in call.input {
                let (next, overflow) = total.addingReportingOverflow(value)
                if overflow { return nil }
                total = next
            }
            return .integer(total)
        }
        if call.input.allSatisfy({ $0.decimalValue != nil }) {
            var total = FHIRPathDecimal.zero
            for item in call.input {
                guard let value = item.decimalValue, let next = total.adding(value) else { return nil }
                total = next
            }
            return .decimal(total)
        }
        let quantities = call.input.compactMap(\.quantityValue)
        guard quantities.count == call.input.count, let unit = quantities.first?.unit else {
            let kinds = Set(call.input.map(\.typeName)).sorted().joined(separator: ", ")
            throw failure("\(call.name) adds numbers or quantities, not \(kinds)", at: call.position)
        }
        var total = FHIRPathDecimal.zero
        for quantity in quantities {
            guard let converted = quantity.converted(to: unit) else {
                throw failure("\(call.name) cannot add '\(quantity.unit)' to '\(unit)'", at: call.position)
            }
            guard let next = total.adding(converted.value) else { return nil }
            total = next
        }
        return .quantity(FHIRPathQuantity(value: total, unit: unit))
    }

    /// `min()` or `max()`: empty when some pair cannot be ordered (dates of different precision).
    private func extreme(_ call: FHIRPathCall) throws(FHIRPathError) -> [FHIRPathValue] {
        guard var best = call.input.first else { return [] }
        for item in call.input.dropFirst() {
            switch FHIRPathOrdering.compare(item, best, defaultOffset: defaultOffset) {
            case .ordered(let order):
                if (call.function == .min && order < 0) || (call.function == .max && order > 0) { best = item }
            case .undecided:
                return []
            case .incomparable:
                throw failure("\(call.name) cannot compare \(item.typeName) with \(best.typeName)", at: call.position)
            }
        }
        if call.input.count == 1, FHIRPathOrdering.compare(best, best, defaultOffset: defaultOffset) == .incomparable {
            throw failure("\(call.name) cannot order \(best.typeName)", at: call.position)
        }
        return [best]
    }
}
