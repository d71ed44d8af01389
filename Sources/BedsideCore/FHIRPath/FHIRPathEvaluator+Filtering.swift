/// `where() select() repeat() ofType()`.
extension FHIRPathEvaluator {
    /// The most items `repeat()` and `descendants()` may produce before they are taken to be runaway.
    static let maximumRepeatCount = 100_000

    func filtering(_ call: FHIRPathCall) throws(FHIRPathError) -> [FHIRPathValue] {
        switch call.function {
        case .where:
            var result: [FHIRPathValue] = []
            for (index, item) in call.input.enumerated() where try criterion(of: call, for: item, at: index) == true {
                result.append(item)
            }
            return result
        case .select:
            var result: [FHIRPathValue] = []
            for (index, item) in call.input.enumerated() {
                result += try argument(0, of: call, for: item, at: index)
            }
            return result
        case .repeat:
            return try repeated(call.input, at: call.position) { (item, index) throws(FHIRPathError) in
                try argument(0, of: call, for: item, at: index)
            }
        default:  // ofType
            let type = try typeArgument(of: call)
            return call.input.filter { type.matches($0) }
        }
    }

    /// Applies `projection` to the input, then to what it gave, until nothing new comes, and returns
    /// everything it gave in order. An element is new unless the same element (same place, same
    /// content) was already given, so a projection that loops back ends.
    func repeated(
        _ input: [FHIRPathValue], at position: FHIRPathPosition,
        _ projection: (FHIRPathValue, Int) throws(FHIRPathError) -> [FHIRPathValue]
    ) throws(FHIRPathError) -> [FHIRPathValue] {
        var result: [FHIRPathValue] = []
        var seenElements: [String: [JSONValue]] = [:]
        var queue = input
        while !queue.isEmpty {
            var next: [FHIRPathValue] = []
            for (index, item) in queue.enumerated() {
                for produced in try projection(item, index) {
                    if case .element(let element) = produced {
                        if seenElements[element.path]?.contains(where: { FHIRPathEquality.deepEqual($0, element.json) }) == true { continue }
                        seenElements[element.path, default: []].append(element.json)
                    } else if FHIRPathEquality.collection(result, contains: produced, defaultOffset: defaultOffset) {
                        continue
                    }
                    result.append(produced)
                    next.append(produced)
                }
                guard result.count <= Self.maximumRepeatCount else {
                    throw failure("repeat() gave more than \(Self.maximumRepeatCount) items", at: position)
                }
            }
            queue = next
        }
        return result
    }
}
