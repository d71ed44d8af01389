/// The SDC functions on QuestionnaireResponse data: `ordinal()` and `weight()` (the score of each
/// answer, see `FHIRPathAnswerScore`), `answerOption()` and `answers()`.
extension FHIRPathEvaluator {
    func questionnaireFunctions(_ call: FHIRPathCall) throws(FHIRPathError) -> [FHIRPathValue] {
        let scores = FHIRPathAnswerScore(questionnaire: context.questionnaire)
        switch call.function {
        case .ordinal, .weight:
            // Answers without a score add nothing; primitives cannot say which item they answer.
            return call.input.flatMap { item in item.elementValue.flatMap { scores.score(of: $0) } ?? [] }
        case .answerOption:
            return call.input.compactMap { item in
                guard let element = item.elementValue, let option = scores.answerOption(for: element), let linkId = element.linkId else {
                    return nil
                }
                return .element(FHIRPathElement(json: option, typeName: nil, linkId: linkId, path: "%questionnaire.answerOption[\(linkId)]"))
            }
        default:  // answers
            return call.input.flatMap { item in item.elementValue.map(answers(below:)) ?? [] }
        }
    }

    /// Every `answer` of every item below `element` (a QuestionnaireResponse or one of its items),
    /// including items nested in answers, in document order.
    private func answers(below element: FHIRPathElement) -> [FHIRPathValue] {
        var result: [FHIRPathValue] = []
        var pending = element.children(named: "item").reversed().compactMap(\.elementValue)
        while let item = pending.popLast() {
            let answers = item.children(named: "answer")
            result += answers
            let nested = answers.compactMap(\.elementValue).flatMap { $0.children(named: "item") } + item.children(named: "item")
            pending += nested.reversed().compactMap(\.elementValue)
        }
        return result
    }
}
