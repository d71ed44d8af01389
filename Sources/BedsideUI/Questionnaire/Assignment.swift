import BedsideCore

/// A questionnaire the care team asked the patient to fill in (a FHIR Task), as the home screen lists it.
public struct Assignment: Sendable, Equatable {
    public var taskID: String
    public var title: String
    /// When it should be done by (`Task.restriction.period.end`), if the care team said.
    public var due: Int64?
    /// The patient has answered some of it (a draft is kept).
    public var started: Bool

    public init(taskID: String, title: String, due: Int64? = nil, started: Bool = false) {
        self.taskID = taskID
        self.title = title
        self.due = due
        self.started = started
    }

    public func isOverdue(at now: Int64) -> Bool { due.map { $0 < now } ?? false }
}

/// What is kept of a questionnaire while it is being filled in, so nothing is lost to a crash, a lock
/// or leaving the form: the answers, the page, and text typed but not yet confirmed.
public struct QuestionnaireDraft: Sendable, Equatable {
    public var responseID: String
    public var taskID: String
    public var questionnaireID: String
    public var title: String
    public var answers: [ResponseItem]
    public var pageIndex: Int
    public var typing: String

    public init(
        responseID: String, taskID: String, questionnaireID: String, title: String, answers: [ResponseItem], pageIndex: Int, typing: String
    ) {
        self.responseID = responseID
        self.taskID = taskID
        self.questionnaireID = questionnaireID
        self.title = title
        self.answers = answers
        self.pageIndex = pageIndex
        self.typing = typing
    }

    /// The JSON the store seals.
    public var payload: JSONValue {
        [
            "questionnaire": .string(questionnaireID), "title": .string(title), "answers": answers.json, "page": .number(pageIndex),
            "typing": .string(typing),
        ]
    }

    public init?(responseID: String, taskID: String, payload: JSONValue) {
        guard let questionnaireID = payload["questionnaire"]?.stringValue else { return nil }
        self.init(
            responseID: responseID, taskID: taskID, questionnaireID: questionnaireID, title: payload["title"]?.stringValue ?? "",
            answers: [ResponseItem](json: payload["answers"]), pageIndex: payload["page"]?.intValue ?? 0,
            typing: payload["typing"]?.stringValue ?? "")
    }
}

extension QuestionnaireSession {
    /// What to keep of this session now; nil for a form not opened from an assignment (a preview).
    public var draft: QuestionnaireDraft? {
        guard let responseID, let taskID = taskReference?.split(separator: "/").last.map(String.init) else { return nil }
        var typing = ""
        if case .question = page { typing = field.text }
        return QuestionnaireDraft(
            responseID: responseID, taskID: taskID, questionnaireID: questionnaire.id ?? "", title: questionnaire.displayTitle,
            answers: answers, pageIndex: pageIndex, typing: typing)
    }

    /// Reopens a kept draft where the patient left it, with what they were typing.
    public init(
        questionnaire: Questionnaire, draft: QuestionnaireDraft, language: String?, valueSets: [String: [AnswerValue.Coding]] = [:], now: Int64
    ) {
        self.init(
            questionnaire: questionnaire, answers: draft.answers, taskReference: "Task/\(draft.taskID)", language: language,
            responseID: draft.responseID, valueSets: valueSets, now: now)
        go(to: draft.pageIndex)
        if !draft.typing.isEmpty, case .question = page { field = TextField(draft.typing, maxLength: field.maxLength) }
    }
}

extension QuestionnaireItem {
    /// Shown but not typed: read-only items, and calculated ones (scores, formulas), which the form works out.
    var isWorkedOut: Bool { readOnly || extensions.calculatedExpression != nil }
}
