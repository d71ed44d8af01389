import BedsideCore

/// Where an item sits in the answers: each step is an item's linkId and which repetition of it.
/// Items nested under a question live under that question's first answer, as FHIR keeps them.
public struct ItemPath: Sendable, Equatable, Hashable {
    public struct Step: Sendable, Equatable, Hashable {
        public var linkId: String
        public var repetition: Int
    }

    public var steps: [Step]

    public init(_ steps: [Step] = []) { self.steps = steps }

    public func appending(_ linkId: String, _ repetition: Int = 0) -> ItemPath {
        ItemPath(steps + [Step(linkId: linkId, repetition: repetition)])
    }

    public var linkId: String { steps.last?.linkId ?? "" }
}

/// Reading and changing answers in a `[ResponseItem]` tree by path.
enum ResponseTree {
    /// The children of the item at `path` (a group repetition's items, or a question's first answer's items).
    static func children(of path: ItemPath, in items: [ResponseItem]) -> [ResponseItem] {
        var level = items
        for step in path.steps {
            let matches = level.filter { $0.linkId == step.linkId }
            guard matches.indices.contains(step.repetition) else { return [] }
            let item = matches[step.repetition]
            level = item.answers.isEmpty ? item.items : item.answers[0].items + item.items
        }
        return level
    }

    /// The items in each scope from the outside in, for enableWhen.
    static func scopes(of path: ItemPath, in items: [ResponseItem]) -> [[ResponseItem]] {
        [items] + path.steps.indices.map { index in children(of: ItemPath(Array(path.steps.prefix(index + 1))), in: items) }
    }

    static func answers(at path: ItemPath, in items: [ResponseItem]) -> [AnswerValue] {
        guard let last = path.steps.last else { return [] }
        let parent = children(of: ItemPath(Array(path.steps.dropLast())), in: items)
        let matches = parent.filter { $0.linkId == last.linkId }
        guard matches.indices.contains(last.repetition) else { return [] }
        return matches[last.repetition].answers.map(\.value)
    }

    /// How many repetitions of `linkId` exist under `parent`.
    static func repetitions(of linkId: String, under parent: ItemPath, in items: [ResponseItem]) -> Int {
        children(of: parent, in: items).filter { $0.linkId == linkId }.count
    }

    /// Sets the answers at `path`, creating the items on the way; nested items under a first answer stay.
    static func setAnswers(_ values: [AnswerValue], at path: ItemPath, in items: inout [ResponseItem]) {
        update(path.steps[...], in: &items) { item in
            let nested = item.answers.first?.items ?? []
            item.answers = values.map { ResponseAnswer(value: $0) }
            if !item.answers.isEmpty { item.answers[0].items = nested }
        }
    }

    /// Makes sure the item at `path` exists (a new repetition of a group).
    static func ensure(_ path: ItemPath, in items: inout [ResponseItem]) {
        update(path.steps[...], in: &items) { _ in }
    }

    private static func update(_ steps: ArraySlice<ItemPath.Step>, in level: inout [ResponseItem], _ change: (inout ResponseItem) -> Void) {
        guard let step = steps.first else { return }
        var indices = level.indices.filter { level[$0].linkId == step.linkId }
        while indices.count <= step.repetition {
            level.insert(ResponseItem(linkId: step.linkId), at: (indices.last.map { $0 + 1 }) ?? level.count)
            indices = level.indices.filter { level[$0].linkId == step.linkId }
        }
        let index = indices[step.repetition]
        if steps.count == 1 {
            change(&level[index])
            return
        }
        // Deeper: into a group repetition's items, or a question's first answer's items.
        if level[index].answers.isEmpty {
            update(steps.dropFirst(), in: &level[index].items, change)
        } else {
            update(steps.dropFirst(), in: &level[index].answers[0].items, change)
        }
    }
}
