import BedsideCore

/// How long typed text waits before it is kept in the draft (each confirmed answer is kept at once).
let draftTypingDelay: Int64 = 1_000

func questionnaireKey(_ state: inout AppState, _ session: inout QuestionnaireSession, _ key: Key) -> [Effect] {
    let typedBefore = session.field.text
    session.now = state.now
    let outcome = session.handle(key, language: state.language)
    switch outcome {
    case .leave:
        state.pop()
        let keep: [Effect] = session.draft.map { [.saveDraft($0)] } ?? []
        return keep + [.loadStatus]
    case .changed:
        session.unsavedSince = nil
        state.replaceTop(.questionnaire(session))
        return session.draft.map { [.saveDraft($0)] } ?? []
    case .submit:
        state.replaceTop(.questionnaire(session))
        guard let draft = session.draft else { return [] }
        state.busy = .qSending
        let authored = FHIRDateTime.format(epochMilliseconds: state.now, utcOffsetSeconds: state.utcOffsetSeconds)
        return [.submitResponse(draft, authored: authored)]
    case .none:
        if session.field.text != typedBefore, session.unsavedSince == nil { session.unsavedSince = state.now }
        state.replaceTop(.questionnaire(session))
        return []
    }
}

/// On the clock: typing not yet kept is kept once the patient pauses.
func keepTypingIfDue(_ state: inout AppState) -> [Effect] {
    guard case .questionnaire(var session) = state.screen, let since = session.unsavedSince,
        state.now - since >= draftTypingDelay, let draft = session.draft
    else { return [] }
    session.unsavedSince = nil
    state.replaceTop(.questionnaire(session))
    return [.saveDraft(draft)]
}

/// Before the screen is cleared (lock, quit): keep whatever questionnaire is open.
func keepOpenDrafts(_ state: AppState) -> [Effect] {
    state.stack.compactMap { screen in
        if case .questionnaire(let session) = screen { return session.draft.map(Effect.saveDraft) }
        return nil
    }
}

/// `f` on the home screen: the one due questionnaire, or a choice of several.
func openAssignments(_ state: inout AppState) -> [Effect] {
    let assignments = state.status.assignments
    switch assignments.count {
    case 0:
        state.inform(.qNothingToFill)
        return []
    case 1:
        state.busy = .qOpening
        return [.openQuestionnaire(taskID: assignments[0].taskID)]
    default:
        state.push(.chooseQuestionnaire(selection: 0))
        return []
    }
}

func chooseQuestionnaireKey(_ state: inout AppState, _ selection: Int, _ key: Key) -> [Effect] {
    let assignments = state.status.assignments
    guard !assignments.isEmpty else {
        state.pop()
        return []
    }
    var chosen: Int?
    switch key {
    case .up: state.replaceTop(.chooseQuestionnaire(selection: max(0, selection - 1)))
    case .down, .tab: state.replaceTop(.chooseQuestionnaire(selection: min(assignments.count - 1, selection + 1)))
    case .enter: chosen = min(selection, assignments.count - 1)
    case .escape: state.pop()
    case .character(let character):
        if let number = character.wholeNumberValue, (1...assignments.count).contains(number) { chosen = number - 1 }
    default: break
    }
    guard let chosen else { return [] }
    state.busy = .qOpening
    return [.openQuestionnaire(taskID: assignments[chosen].taskID)]
}

func handleQuestionnaireResult(_ state: inout AppState, _ action: QuestionnaireAction) -> [Effect] {
    switch action {
    case .opened(let session):
        state.busy = nil
        if case .chooseQuestionnaire = state.screen { state.replaceTop(.questionnaire(session)) } else { state.push(.questionnaire(session)) }
    case .submitted(let title):
        state.busy = nil
        state.stack = [.home]
        state.inform(.qSubmitted, title)
        scheduleSync(&state, in: state.syncDelayAfterEntry)
        return [.loadStatus]
    }
    return []
}

/// Every page of a form as the patient would first see it (nothing answered yet), drawn at the given
/// size: what `bedside questionnaire preview` prints.
public func previewPages(
    _ questionnaire: Questionnaire, width: Int, height: Int, language: Language, formLanguage: String?, now: Int64
) -> [String] {
    var session = QuestionnaireSession(questionnaire: questionnaire, language: formLanguage, now: now)
    var state = AppState(
        width: width, height: height, now: now, utcOffsetSeconds: 0, language: language, hasAccount: true, server: "", idSeed: 1)
    var pages: [String] = []
    for index in session.pages.indices {
        session.go(to: index)
        state.stack = [.questionnaire(session)]
        pages.append(render(state).text)
    }
    return pages
}
