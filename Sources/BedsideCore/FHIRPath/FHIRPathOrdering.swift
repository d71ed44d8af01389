/// How two items order, for `<`, `<=`, `>`, `>=`, `min()`/`max()`, and the date and quantity cases of
/// equality.
enum FHIRPathOrdering {
    enum Comparison: Equatable {
        /// -1, 0 or 1.
        case ordered(Int)
        /// Comparable kinds, but the answer is unknown (dates of different precision, unrelated units).
        case undecided
        /// Kinds that do not compare.
        case incomparable
    }

    static func compare(_ lhs: FHIRPathValue, _ rhs: FHIRPathValue, defaultOffset: Int) -> Comparison {
        switch (lhs, rhs) {
        case (.integer(let left), .integer(let right)): return .ordered(left < right ? -1 : (left == right ? 0 : 1))
        case (.string(let left), .string(let right)): return .ordered(left < right ? -1 : (left == right ? 0 : 1))
        default: break
        }
        if let left = lhs.decimalValue, let right = rhs.decimalValue { return .ordered(FHIRPathDecimal.compare(left, right)) }
        let temporal = temporalOrder(lhs, rhs, defaultOffset: defaultOffset)
        if temporal != .incomparable { return temporal }
        return quantityOrder(lhs, rhs)
    }

    /// Dates, date-times and times. A string on one side is read as the other side's kind, because
    /// without a FHIR model a `birthDate` reached by navigation is only text.
    static func temporalOrder(_ lhs: FHIRPathValue, _ rhs: FHIRPathValue, defaultOffset: Int) -> Comparison {
        if let left = time(lhs, other: rhs), let right = time(rhs, other: lhs) {
            return FHIRPathTime.compare(left, right).map(Comparison.ordered) ?? .undecided
        }
        if let left = dateTime(lhs, other: rhs), let right = dateTime(rhs, other: lhs) {
            return FHIRPathDateTime.compare(left, right, defaultOffset: defaultOffset).map(Comparison.ordered) ?? .undecided
        }
        return .incomparable
    }

    /// Quantities (System ones, and FHIR Quantity elements), converting the right one to the left's unit.
    static func quantityOrder(_ lhs: FHIRPathValue, _ rhs: FHIRPathValue) -> Comparison {
        guard let left = lhs.quantityValue, let right = rhs.quantityValue else { return .incomparable }
        guard let converted = right.converted(to: left.unit) else { return .undecided }
        return .ordered(FHIRPathDecimal.compare(left.value, converted.value))
    }

    private static func time(_ value: FHIRPathValue, other: FHIRPathValue) -> FHIRPathTime? {
        switch (value, other) {
        case (.time(let time), _): time
        case (.string(let text), .time): FHIRPathTime(text)
        default: nil
        }
    }

    private static func dateTime(_ value: FHIRPathValue, other: FHIRPathValue) -> FHIRPathDateTime? {
        switch (value, other) {
        case (.date(let date), _), (.dateTime(let date), _): date
        case (.string(let text), .date), (.string(let text), .dateTime): FHIRPathDateTime(text)
        default: nil
        }
    }
}
