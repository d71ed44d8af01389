/// A form filled from given answers: the answers shaped as the form is, disabled items removed,
/// calculated items worked out, and what is still missing or wrong.
public struct QuestionnaireFill: Sendable {
    public var items: [ResponseItem]
    /// Required questions left unanswered, answers outside the form's rules.
    public var problems: [AnswerError]
    public let questionnaire: Questionnaire

    /// Calculations that could not run (a broken expression in the form), for the author.
    public var calculationProblems: [String]

    /// Fills `questionnaire` from a JSON answer sheet (see `AnswerSheet`); `now` is what `today()` sees.
    public init(_ questionnaire: Questionnaire, answers: JSONValue, now: Int64 = 0) throws(AnswerError) {
        self.questionnaire = questionnaire
        let given = try AnswerSheet.responseItems(answers, for: questionnaire)
        let evaluator = EnableWhenEvaluator(questionnaire: questionnaire)
        let calculated = QuestionnaireCalculator(questionnaire: questionnaire, now: now).apply(evaluator.prune(given))
        items = evaluator.prune(calculated.items)
        calculationProblems = calculated.problems
        problems = AnswerRules.check(items, definitions: questionnaire.items)
    }

    /// The QuestionnaireResponse: `completed` when nothing is missing, else `in-progress`.
    public func response(subject: String? = nil, authored: String? = nil, basedOn: String? = nil) -> JSONValue {
        QuestionnaireResponseWriter(questionnaire: questionnaire).response(
            items, status: problems.isEmpty ? "completed" : "in-progress", subject: subject, authored: authored, basedOn: basedOn)
    }
}
