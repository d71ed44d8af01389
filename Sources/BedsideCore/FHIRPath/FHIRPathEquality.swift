/// FHIRPath equality (`=`) and equivalence (`~`) of items and collections.
enum FHIRPathEquality {
    // MARK: - Equality

    /// `=` on two collections: empty if either is; otherwise equal counts and items equal in order.
    /// `nil` (empty) also when some pair cannot be decided, such as dates of different precision.
    static func equal(_ lhs: [FHIRPathValue], _ rhs: [FHIRPathValue], defaultOffset: Int) -> Bool? {
        guard !lhs.isEmpty, !rhs.isEmpty else { return nil }
        guard lhs.count == rhs.count else { return false }
        var undecided = false
        for (left, right) in zip(lhs, rhs) {
            switch equal(left, right, defaultOffset: defaultOffset) {
            case false?: return false
            case nil: undecided = true
            case true?: break
            }
        }
        return undecided ? nil : true
    }

    /// `=` on two items; `nil` when it cannot be decided.
    static func equal(_ lhs: FHIRPathValue, _ rhs: FHIRPathValue, defaultOffset: Int) -> Bool? {
        switch (lhs, rhs) {
        case (.boolean(let left), .boolean(let right)): return left == right
        case (.string(let left), .string(let right)): return left == right
        case (.integer(let left), .integer(let right)): return left == right
        case (.element(let left), .element(let right)): return deepEqual(left.json, right.json)
        default: break
        }
        if let left = lhs.decimalValue, let right = rhs.decimalValue { return left == right }
        for comparison in [FHIRPathOrdering.temporalOrder(lhs, rhs, defaultOffset: defaultOffset), FHIRPathOrdering.quantityOrder(lhs, rhs)] {
            switch comparison {
            case .ordered(let order): return order == 0
            case .undecided: return nil
            case .incomparable: continue
            }
        }
        return false
    }

    /// Whether `item` equals some member of `collection` (undecidable pairs count as different).
    static func collection(_ collection: [FHIRPathValue], contains item: FHIRPathValue, defaultOffset: Int) -> Bool {
        collection.contains { equal($0, item, defaultOffset: defaultOffset) == true }
    }

    /// The items in order, without repeats.
    static func distinct(_ items: [FHIRPathValue], defaultOffset: Int) -> [FHIRPathValue] {
        var result: [FHIRPathValue] = []
        for item in items where !collection(result, contains: item, defaultOffset: defaultOffset) {
            result.append(item)
        }
        return result
    }

    /// JSON equality by value: members in any order, numbers by value (`1.0` is `1`).
    static func deepEqual(_ lhs: JSONValue, _ rhs: JSONValue) -> Bool {
        switch (lhs, rhs) {
        case (.object(let left), .object(let right)):
            guard left.count == right.count else { return false }
            return left.allSatisfy { member in right[member.key].map { deepEqual(member.value, $0) } ?? false }
        case (.array(let left), .array(let right)):
            return left.count == right.count && zip(left, right).allSatisfy { deepEqual($0, $1) }
        case (.number(let left), .number(let right)):
            guard let leftValue = FHIRPathDecimal(left), let rightValue = FHIRPathDecimal(right) else { return left == right }
            return leftValue == rightValue
        default:
            return lhs == rhs
        }
    }

    // MARK: - Equivalence

    /// `~` on two collections: same size and each item equivalent to a different item of the other,
    /// in any order. Two empty collections are equivalent.
    static func equivalent(_ lhs: [FHIRPathValue], _ rhs: [FHIRPathValue], defaultOffset: Int) -> Bool {
        guard lhs.count == rhs.count else { return false }
        var unmatched = rhs
        for left in lhs {
            guard let index = unmatched.firstIndex(where: { equivalent(left, $0, defaultOffset: defaultOffset) }) else { return false }
            unmatched.remove(at: index)
        }
        return true
    }

    /// `~` on two items: strings ignoring case and runs of whitespace, decimals at the precision of the
    /// less precise, dates only when of the same precision.
    static func equivalent(_ lhs: FHIRPathValue, _ rhs: FHIRPathValue, defaultOffset: Int) -> Bool {
        switch (lhs, rhs) {
        case (.string(let left), .string(let right)): return normalized(left) == normalized(right)
        case (.integer(let left), .integer(let right)): return left == right
        case (.boolean(let left), .boolean(let right)): return left == right
        case (.element(let left), .element(let right)): return deepEqual(left.json, right.json)
        default: break
        }
        if let left = lhs.decimalValue, let right = rhs.decimalValue {
            let places = min(left.normalized.scale, right.normalized.scale)
            return left.rounded(toPlaces: places) == right.rounded(toPlaces: places)
        }
        return FHIRPathOrdering.temporalOrder(lhs, rhs, defaultOffset: defaultOffset) == .ordered(0)
            || FHIRPathOrdering.quantityOrder(lhs, rhs) == .ordered(0)
    }

    private static func normalized(_ text: String) -> String {
        text.lowercased().split(whereSeparator: { $0.isWhitespace }).joined(separator: " ")
    }
}
