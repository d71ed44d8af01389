import BedsideCore

func questionnaireKey(_ state: inout AppState, _ session: inout QuestionnaireSession, _ key: Key) -> [Effect] {
    let outcome = session.handle(key, language: state.language)
    switch outcome {
    case .leave:
        state.pop()
        return [.loadStatus]
    case .none, .changed, .submit:
        state.replaceTop(.questionnaire(session))
        return []
    }
}

/// Every page of a form as the patient would first see it (nothing answered yet), drawn at the given
/// size: what `bedside questionnaire preview` prints.
public func previewPages(
    _ questionnaire: Questionnaire, width: Int, height: Int, language: Language, formLanguage: String?, now: Int64
) -> [String] {
    var session = QuestionnaireSession(questionnaire: questionnaire, language: formLanguage)
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
