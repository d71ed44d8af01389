/// The operators: logic with three-valued results, equality, comparison, membership, union and
/// string concatenation. Arithmetic is in `FHIRPathEvaluator+Arithmetic.swift`.
extension FHIRPathEvaluator {
    func binary(
        _ binaryOperator: FHIRPathBinaryOperator, _ left: FHIRPathSyntax, _ right: FHIRPathSyntax, in scope: FHIRPathScope,
        at position: FHIRPathPosition
    ) throws(FHIRPathError) -> [FHIRPathValue] {
        switch binaryOperator {
        case .and, .or, .xor, .implies:
            return try logical(binaryOperator, left, right, in: scope, at: position)
        default:
            break
        }
        let lhs = try evaluate(left, in: scope)
        let rhs = try evaluate(right, in: scope)
        switch binaryOperator {
        case .union:
            return FHIRPathEquality.distinct(lhs + rhs, defaultOffset: defaultOffset)
        case .equal:
            return FHIRPathEquality.equal(lhs, rhs, defaultOffset: defaultOffset).map { [.boolean($0)] } ?? []
        case .notEqual:
            return FHIRPathEquality.equal(lhs, rhs, defaultOffset: defaultOffset).map { [.boolean(!$0)] } ?? []
        case .equivalent:
            return [.boolean(FHIRPathEquality.equivalent(lhs, rhs, defaultOffset: defaultOffset))]
        case .notEquivalent:
            return [.boolean(!FHIRPathEquality.equivalent(lhs, rhs, defaultOffset: defaultOffset))]
        case .in:
            return try membership(of: lhs, in: rhs, for: "'in'", at: position)
        case .contains:
            return try membership(of: rhs, in: lhs, for: "'contains'", at: position)
        case .less, .greater, .lessOrEqual, .greaterOrEqual:
            return try comparison(binaryOperator, lhs, rhs, at: position)
        case .concatenate:
            let leftText = try string(lhs, for: "'&'", at: position) ?? ""
            let rightText = try string(rhs, for: "'&'", at: position) ?? ""
            return [.string(leftText + rightText)]
        case .add, .subtract, .multiply, .divide, .div, .mod:
            return try arithmetic(binaryOperator, lhs, rhs, at: position)
        case .and, .or, .xor, .implies:
            return []  // handled above
        }
    }

    // MARK: - Logic

    /// `and`, `or`, `xor`, `implies` on true, false and empty (unknown), deciding from the left
    /// operand alone when it can (`false and …` is false without evaluating the right).
    private func logical(
        _ logicalOperator: FHIRPathBinaryOperator, _ left: FHIRPathSyntax, _ right: FHIRPathSyntax, in scope: FHIRPathScope,
        at position: FHIRPathPosition
    ) throws(FHIRPathError) -> [FHIRPathValue] {
        let what = "'\(logicalOperator.rawValue)'"
        let lhs = try condition(try evaluate(left, in: scope), for: what, at: position)
        switch (logicalOperator, lhs) {
        case (.and, false?): return [.boolean(false)]
        case (.or, true?): return [.boolean(true)]
        case (.implies, false?): return [.boolean(true)]
        default: break
        }
        let rhs = try condition(try evaluate(right, in: scope), for: what, at: position)
        let result: Bool?
        switch logicalOperator {
        case .and: result = rhs == false ? false : (lhs == true && rhs == true ? true : nil)
        case .or: result = rhs == true ? true : (lhs == false && rhs == false ? false : nil)
        case .xor: result = lhs.flatMap { left in rhs.map { left != $0 } }
        default: result = lhs == true ? rhs : (rhs == true ? true : nil)  // implies, left true or unknown
        }
        return result.map { [.boolean($0)] } ?? []
    }

    // MARK: - Comparison and membership

    private func comparison(
        _ comparisonOperator: FHIRPathBinaryOperator, _ lhs: [FHIRPathValue], _ rhs: [FHIRPathValue], at position: FHIRPathPosition
    ) throws(FHIRPathError) -> [FHIRPathValue] {
        let what = "'\(comparisonOperator.rawValue)'"
        guard let left = try single(lhs, for: what, at: position), let right = try single(rhs, for: what, at: position) else { return [] }
        switch FHIRPathOrdering.compare(left, right, defaultOffset: defaultOffset) {
        case .ordered(let order):
            switch comparisonOperator {
            case .less: return [.boolean(order < 0)]
            case .greater: return [.boolean(order > 0)]
            case .lessOrEqual: return [.boolean(order <= 0)]
            default: return [.boolean(order >= 0)]
            }
        case .undecided:
            return []
        case .incomparable:
            throw failure("\(what) cannot compare \(left.typeName) with \(right.typeName)", at: position)
        }
    }

    /// `item in collection`: empty if the item is, else whether the collection holds an equal item.
    private func membership(
        of item: [FHIRPathValue], in collection: [FHIRPathValue], for what: String, at position: FHIRPathPosition
    ) throws(FHIRPathError) -> [FHIRPathValue] {
        guard let value = try single(item, for: what, at: position) else { return [] }
        return [.boolean(FHIRPathEquality.collection(collection, contains: value, defaultOffset: defaultOffset))]
    }

    // MARK: - Unary

    func unary(_ unaryOperator: FHIRPathUnaryOperator, _ operand: [FHIRPathValue], at position: FHIRPathPosition) throws(FHIRPathError) -> [FHIRPathValue] {
        guard let item = try single(operand, for: "unary '\(unaryOperator.rawValue)'", at: position) else { return [] }
        switch (unaryOperator, item) {
        case (.plus, .integer), (.plus, .decimal), (.plus, .quantity):
            return [item]
        case (.minus, .integer(let value)):
            let (negated, overflow) = Int(0).subtractingReportingOverflow(value)
            return overflow ? [] : [.integer(negated)]
        case (.minus, .decimal(let value)):
            return [.decimal(-value)]
        case (.minus, .quantity(let quantity)):
            return [.quantity(FHIRPathQuantity(value: -quantity.value, unit: quantity.unit))]
        default:
            throw failure("unary '\(unaryOperator.rawValue)' needs a number or a quantity, not \(item.typeName)", at: position)
        }
    }
}
