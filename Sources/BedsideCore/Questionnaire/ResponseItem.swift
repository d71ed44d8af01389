/// The patient's answers, shaped like `QuestionnaireResponse.item`: a group repetition holds its
/// children in `items`; a question holds `answers`, each of which may carry nested items.
/// A repeating group is several `ResponseItem`s with the same linkId, side by side.
public struct ResponseItem: Sendable, Equatable {
    public var linkId: String
    public var answers: [ResponseAnswer]
    public var items: [ResponseItem]

    public init(linkId: String, answers: [ResponseAnswer] = [], items: [ResponseItem] = []) {
        self.linkId = linkId
        self.answers = answers
        self.items = items
    }

    /// The first item with `linkId` in this subtree (this item included), depth first.
    func find(_ linkId: String) -> ResponseItem? {
        if self.linkId == linkId { return self }
        for child in items + answers.flatMap(\.items) {
            if let found = child.find(linkId) { return found }
        }
        return nil
    }
}

public struct ResponseAnswer: Sendable, Equatable {
    public var value: AnswerValue
    /// Items nested under this answer (`item.answer.item`).
    public var items: [ResponseItem]

    public init(value: AnswerValue, items: [ResponseItem] = []) {
        self.value = value
        self.items = items
    }
}

extension [ResponseItem] {
    func find(_ linkId: String) -> ResponseItem? {
        for item in self {
            if let found = item.find(linkId) { return found }
        }
        return nil
    }
}
