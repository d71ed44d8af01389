/// A form filled from given answers: the answers shaped as the form is, disabled items removed,
/// calculated items worked out, and what is still missing or wrong.
public struct QuestionnaireFill: Sendable {
    public var items: [ResponseItem]
    /// Required questions left unanswered, answers outside the form's rules.
    public var problems: [AnswerError]
    public let questionnaire: Questionnaire

    /// Fills `questionnaire` from a JSON answer sheet (see `AnswerSheet`).
    public init(_ questionnaire: Questionnaire, answers: JSONValue) throws(AnswerError) {
        self.questionnaire = questionnaire
        let given = try AnswerSheet.responseItems(answers, for: questionnaire)
        items = EnableWhenEvaluator(questionnaire: questionnaire).prune(given)
        problems = AnswerRules.check(items, definitions: questionnaire.items)
    }

    /// The QuestionnaireResponse: `completed` when nothing is missing, else `in-progress`.
    public func response(subject: String? = nil, authored: String? = nil, basedOn: String? = nil) -> JSONValue {
        QuestionnaireResponseWriter(questionnaire: questionnaire).response(
            items, status: problems.isEmpty ? "completed" : "in-progress", subject: subject, authored: authored, basedOn: basedOn)
    }
}
