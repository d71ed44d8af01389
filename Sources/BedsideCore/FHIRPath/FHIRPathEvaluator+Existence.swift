/// `empty() exists() all() allTrue() anyTrue() allFalse() anyFalse() subsetOf() supersetOf() count()
/// distinct() isDistinct()`.
extension FHIRPathEvaluator {
    func existence(_ call: FHIRPathCall) throws(FHIRPathError) -> [FHIRPathValue] {
        let input = call.input
        switch call.function {
        case .empty:
            return [.boolean(input.isEmpty)]
        case .exists:
            guard !call.arguments.isEmpty else { return [.boolean(!input.isEmpty)] }
            for (index, item) in input.enumerated() where try criterion(of: call, for: item, at: index) == true {
                return [.boolean(true)]
            }
            return [.boolean(false)]
        case .all:
            for (index, item) in input.enumerated() where try criterion(of: call, for: item, at: index) != true {
                return [.boolean(false)]
            }
            return [.boolean(true)]
        case .allTrue, .anyTrue, .allFalse, .anyFalse:
            let flags = try booleans(input, for: call)
            switch call.function {
            case .allTrue: return [.boolean(flags.allSatisfy { $0 })]
            case .anyTrue: return [.boolean(flags.contains(true))]
            case .allFalse: return [.boolean(flags.allSatisfy { !$0 })]
            default: return [.boolean(flags.contains(false))]
            }
        case .subsetOf:
            let other = try argument(0, of: call) ?? []
            return [.boolean(input.allSatisfy { FHIRPathEquality.collection(other, contains: $0, defaultOffset: defaultOffset) })]
        case .supersetOf:
            let other = try argument(0, of: call) ?? []
            return [.boolean(other.allSatisfy { FHIRPathEquality.collection(input, contains: $0, defaultOffset: defaultOffset) })]
        case .count:
            return [.integer(input.count)]
        case .distinct:
            return FHIRPathEquality.distinct(input, defaultOffset: defaultOffset)
        default:  // isDistinct
            return [.boolean(FHIRPathEquality.distinct(input, defaultOffset: defaultOffset).count == input.count)]
        }
    }

    /// The criterion (argument 0) for one item, read as a Boolean.
    func criterion(of call: FHIRPathCall, for item: FHIRPathValue, at index: Int) throws(FHIRPathError) -> Bool? {
        let result = try argument(0, of: call, for: item, at: index)
        return try condition(result, for: "the criterion of \(call.name)", at: call.arguments[0].position)
    }

    private func booleans(_ input: [FHIRPathValue], for call: FHIRPathCall) throws(FHIRPathError) -> [Bool] {
        var flags: [Bool] = []
        for item in input {
            guard case .boolean(let flag) = item else { throw failure("\(call.name) needs Booleans, not \(item.typeName)", at: call.position) }
            flags.append(flag)
        }
        return flags
    }
}
