import BedsideCore

/// A questionnaire being filled in: the form, the answers so far, and where the patient is.
///
/// The form is shown one page at a time: one question, a piece of display text, "add another?" after
/// a repeating group, and a review of every answer at the end. Pages are worked out from the answers
/// each time (enableWhen can add or remove them), so going back and changing an answer is safe.
public struct QuestionnaireSession: Sendable, Equatable {
    public enum Page: Sendable, Equatable {
        case question(ItemPath)
        case display(ItemPath)
        /// After the last repetition of a repeating group: add another?
        case addAnother(group: ItemPath)
        case review
    }

    public let questionnaire: Questionnaire
    /// The Task this answers, when it was assigned (`Task/<id>`).
    public var taskReference: String?
    /// The language to show the form in when it has translations.
    public var language: String?
    public var answers: [ResponseItem]
    public var pageIndex = 0
    /// The answer being typed on a text-like page.
    public var field = TextField(maxLength: 2_000)
    /// The highlighted option on a choice or boolean page; on the review page, the first line shown.
    public var cursor = 0
    /// Checked options on a repeating choice page.
    public var checked: Set<Int> = []
    /// Why the answer on this page is not accepted, or why the form cannot be sent yet.
    public var problem: String?
    /// Cached expansions of external value sets.
    public var valueSets: [String: [AnswerValue.Coding]] = [:]
    /// The response's own id (its `urn:uuid` identifier), which the draft is kept under.
    public var responseID: String?
    /// The enabled answers with calculated items worked out: what the pages, the review and the
    /// response show. Recalculated after every accepted answer.
    public private(set) var calculated: [ResponseItem] = []
    /// When typing began that is not in the kept draft yet (the runtime keeps it a moment later).
    public var unsavedSince: Int64?
    /// What `today()` and `now()` are in calculations; the reducer keeps it current.
    public var now: Int64

    public init(
        questionnaire: Questionnaire, answers: [ResponseItem] = [], taskReference: String? = nil, language: String? = nil,
        responseID: String? = nil, valueSets: [String: [AnswerValue.Coding]] = [:], now: Int64 = 0
    ) {
        self.questionnaire = questionnaire
        self.answers = answers
        self.taskReference = taskReference
        self.language = language
        self.responseID = responseID
        self.valueSets = valueSets
        self.now = now
        recalculate()
        loadPage()
    }

    /// Works out the calculated items (scores, formulas) from the answers so far; after every change.
    mutating func recalculate() {
        let evaluator = EnableWhenEvaluator(questionnaire: questionnaire)
        let result = QuestionnaireCalculator(questionnaire: questionnaire, now: now).apply(evaluator.prune(answers))
        calculated = evaluator.prune(result.items)
    }

    /// The answer shown for an item: calculated items show their computed value.
    public func shownAnswers(at path: ItemPath) -> [AnswerValue] {
        if definition(path)?.extensions.calculatedExpression != nil { return ResponseTree.answers(at: path, in: calculated) }
        return ResponseTree.answers(at: path, in: answers)
    }

    // MARK: Pages

    public var pages: [Page] {
        var pages: [Page] = []
        walk(questionnaire.items, parent: ItemPath(), into: &pages)
        pages.append(.review)
        return pages
    }

    public var page: Page {
        let all = pages
        return all[min(pageIndex, all.count - 1)]
    }

    private func walk(_ definitions: [QuestionnaireItem], parent: ItemPath, into pages: inout [Page]) {
        let evaluator = EnableWhenEvaluator(questionnaire: questionnaire)
        let scopes = ResponseTree.scopes(of: parent, in: answers)
        for definition in definitions where !definition.extensions.hidden && evaluator.isEnabled(definition, scopes: scopes) {
            switch definition.type {
            case .group:
                let count = max(1, ResponseTree.repetitions(of: definition.linkId, under: parent, in: answers))
                for repetition in 0..<count {
                    walk(definition.items, parent: parent.appending(definition.linkId, repetition), into: &pages)
                }
                if definition.repeats { pages.append(.addAnother(group: parent.appending(definition.linkId, count - 1))) }
            case .display, .unknown:
                pages.append(.display(parent.appending(definition.linkId)))
                walk(definition.items, parent: parent.appending(definition.linkId), into: &pages)
            default:
                let path = parent.appending(definition.linkId)
                pages.append(.question(path))
                // Items under a question appear once it has an answer.
                if !ResponseTree.answers(at: path, in: answers).isEmpty { walk(definition.items, parent: path, into: &pages) }
            }
        }
    }

    public func definition(_ path: ItemPath) -> QuestionnaireItem? { questionnaire.item(path.linkId) }

    /// "Medicines 2 › " style context for items inside groups.
    public func context(of path: ItemPath) -> [String] {
        path.steps.dropLast().compactMap { step in
            guard let group = questionnaire.item(step.linkId), group.type == .group else { return nil }
            let title = group.text(in: language) ?? group.linkId
            return group.repeats ? "\(title) \(step.repetition + 1)" : title
        }
    }

    public func options(for item: QuestionnaireItem) -> [QuestionnaireItem.AnswerOption]? {
        questionnaire.options(for: item, valueSets: valueSets)
    }

    /// "3 of 12": the question the page at `index` of `pages` shows (or last showed), and how many there are.
    public static func progress(of pages: [Page], at index: Int) -> (number: Int, count: Int) {
        func isQuestion(_ page: Page) -> Bool { if case .question = page { true } else { false } }
        return (pages.prefix(index + 1).filter(isQuestion).count, pages.filter(isQuestion).count)
    }

    // MARK: Moving

    /// Puts the page's current answer into the editing state.
    mutating func loadPage() {
        problem = nil
        checked = []
        cursor = 0
        field = TextField(maxLength: 2_000)
        guard case .question(let path) = page, let item = definition(path) else { return }
        if let maxLength = item.maxLength { field.maxLength = maxLength }
        let current = ResponseTree.answers(at: path, in: answers)
        switch item.type {
        case .boolean:
            if case .boolean(let flag)? = current.first {
                cursor = flag ? 0 : 1
                checked = [cursor]
            }
        case .choice, .openChoice:
            let options = options(for: item) ?? []
            for value in current {
                if let index = options.firstIndex(where: { EnableWhenEvaluator.equal(value, $0.value) }) {
                    checked.insert(index)
                    cursor = index
                } else if case .string(let text) = value {
                    // Free text on an open choice (or a value set that could not be resolved).
                    field = TextField(text, maxLength: field.maxLength)
                    cursor = options.count
                }
            }
        default:
            if let value = current.first { field = TextField(Self.editable(value), maxLength: field.maxLength) }
        }
    }

    /// How a stored answer is edited as text.
    static func editable(_ value: AnswerValue) -> String {
        switch value {
        case .quantity(let quantity): quantity.value
        default: value.text
        }
    }

    public mutating func go(to index: Int) {
        pageIndex = max(0, min(index, pages.count - 1))
        loadPage()
    }

    // MARK: Answering

    /// Checks and stores the answer on the current page; false (with `problem` set) when it is refused.
    mutating func commit(_ values: [AnswerValue]) -> Bool {
        guard case .question(let path) = page, let item = definition(path) else { return true }
        for value in values {
            if let reason = AnswerRules.problem(with: value, for: item) {
                problem = reason
                return false
            }
        }
        ResponseTree.setAnswers(values, at: path, in: &answers)
        recalculate()
        return true
    }

    /// What is still missing before the form can be sent.
    public var missing: [AnswerError] {
        AnswerRules.check(calculated, definitions: questionnaire.items)
    }

    /// The answers to send: disabled items removed, calculated items filled in.
    public var enabledAnswers: [ResponseItem] { calculated }
}
