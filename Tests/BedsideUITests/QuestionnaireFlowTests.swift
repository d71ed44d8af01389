import BedsideCore
import Foundation
import Testing

@testable import BedsideUI

/// The questionnaire's way through the app: found on the home screen, opened, kept as a draft at the
/// right moments (every answer, a pause in typing, before a lock or quit), and sent.
@Suite("Questionnaire flow in the reducer")
struct QuestionnaireFlowTests {
    let start: Int64 = 1_768_469_400_000

    func openedSession() throws -> QuestionnaireSession {
        let questionnaire = try Questionnaire(json: try JSONParser.parse(Array(QuestionnaireScreenTests.form.utf8)))
        return QuestionnaireSession(questionnaire: questionnaire, taskReference: "Task/t1", responseID: "r1")
    }

    func home(with assignments: [Assignment]) -> AppState {
        var state = loggedInState(at: start)
        _ = reduce(&state, .statusLoaded(HomeStatus(assignments: assignments)))
        return state
    }

    func savedDrafts(_ effects: [Effect]) -> [QuestionnaireDraft] {
        effects.compactMap { if case .saveDraft(let draft) = $0 { draft } else { nil } }
    }

    @Test("the home screen lists assignments, overdue ones marked; f opens the only one, or offers a choice of several")
    func homeAndOpen() throws {
        var state = home(with: [])
        #expect(press(&state, .character("f")).isEmpty)
        #expect(render(state).text.contains("There is no questionnaire to fill in."))

        let overdue = Assignment(taskID: "t1", title: "PHQ-9", due: start - 86_400_000, started: true)
        let later = Assignment(taskID: "t2", title: "Heart failure check-in", due: start + 3 * 86_400_000)
        state = home(with: [overdue])
        let text = render(state).text
        #expect(text.contains("Fill in: PHQ-9 (overdue since 14 Jan 2026, started)"))
        #expect(text.contains("f  Fill in a questionnaire"))
        #expect(press(&state, .character("f")) == [.openQuestionnaire(taskID: "t1")])

        state = home(with: [overdue, later])
        #expect(render(state).text.contains("Fill in: Heart failure check-in (due 18 Jan 2026)"))
        #expect(press(&state, .character("f")).isEmpty)
        #expect(render(state).text.contains("Questionnaires to fill in"))
        #expect(press(&state, .down, .enter) == [.openQuestionnaire(taskID: "t2")])
        _ = reduce(&state, .questionnaire(.opened(try openedSession())))
        guard case .questionnaire = state.screen else { Issue.record("not on the form"); return }
        #expect(render(state).text.contains("Are you more short of breath than yesterday?"))
    }

    @Test("every accepted answer is kept at once; typing is kept after a one-second pause, not per key")
    func draftsAsYouGo() throws {
        var state = home(with: [Assignment(taskID: "t1", title: "Check-in")])
        _ = reduce(&state, .questionnaire(.opened(try openedSession())))
        let answered = savedDrafts(press(&state, .character("y")))
        #expect(answered.count == 1)
        #expect(answered.first?.answers.first?.answers.first?.value == .boolean(true))
        #expect(answered.first?.taskID == "t1" && answered.first?.responseID == "r1")
        _ = press(&state, .character("2"))  // "A lot", and on to the weight
        var typed: [Effect] = []
        for character in "81.4" { typed += reduce(&state, .key(.character(character))) }
        #expect(savedDrafts(typed).isEmpty)
        #expect(savedDrafts(reduce(&state, .tick(now: start + 500))).isEmpty)
        let paused = savedDrafts(reduce(&state, .tick(now: start + 1_200)))
        #expect(paused.map(\.typing) == ["81.4"])
        #expect(paused.first?.pageIndex == 2)
        // Nothing new typed: nothing kept again.
        #expect(savedDrafts(reduce(&state, .tick(now: start + 3_000))).isEmpty)
    }

    @Test("the idle lock and Ctrl-C keep the open form first, then lock or quit; the screen keeps none of it")
    func keptBeforeLockAndQuit() throws {
        var state = home(with: [Assignment(taskID: "t1", title: "Check-in")])
        _ = reduce(&state, .questionnaire(.opened(try openedSession())))
        _ = press(&state, .character("y"), .character("1"))
        for character in "SENTINEL" { _ = reduce(&state, .key(.character(character))) }
        let effects = reduce(&state, .tick(now: start + 15 * 60_000 + 1))
        #expect(effects.last == .lock)
        #expect(savedDrafts(effects).map(\.typing) == ["SENTINEL"])
        #expect(!render(state).text.contains("SENTINEL"))
        #expect(!render(state).text.contains("short of breath"))

        var quitting = home(with: [Assignment(taskID: "t1", title: "Check-in")])
        _ = reduce(&quitting, .questionnaire(.opened(try openedSession())))
        _ = press(&quitting, .character("n"))
        let quit = press(&quitting, .control("c"))
        #expect(quit.last == .quit)
        #expect(savedDrafts(quit).count == 1)
    }

    @Test("Esc keeps the draft and goes home; sending asks the runtime to queue it, then home says thank you")
    func leaveAndSend() throws {
        var state = home(with: [Assignment(taskID: "t1", title: "Check-in")])
        _ = reduce(&state, .questionnaire(.opened(try openedSession())))
        let left = press(&state, .escape)
        #expect(savedDrafts(left).count == 1 && left.last == .loadStatus)
        #expect(state.screen == .home)

        _ = reduce(&state, .questionnaire(.opened(try openedSession())))
        _ = press(&state, .character("n"), .enter)  // no breathlessness; the weight left empty
        _ = press(&state, .enter, .character("n"), .enter, .enter)  // one medicine, none missed, no symptoms
        let sent = press(&state, .enter)
        guard case .submitResponse(let draft, let authored)? = sent.first else {
            Issue.record("not sent: \(sent) on \(render(state).text)")
            return
        }
        #expect(draft.taskID == "t1")
        #expect(authored == "2026-01-15T10:30:00+01:00")
        #expect(state.busy == .qSending)
        let after = reduce(&state, .questionnaire(.submitted(title: "Check-in")))
        #expect(after == [.loadStatus])
        #expect(state.stack == [.home])
        #expect(render(state).text.contains("Thank you. Your answers to Check-in are kept"))
        #expect(state.sync.nextAttemptAt == start + state.syncDelayAfterEntry)
    }

    @Test("a draft reopens on its page with its answers and what was being typed")
    func reopenDraft() throws {
        var session = try openedSession()
        _ = session.handle(.character("y"), language: .en)
        _ = session.handle(.character("1"), language: .en)
        for character in "80" { _ = session.handle(.character(character), language: .en) }
        let draft = try #require(session.draft)
        let payload = draft.payload
        let restored = try #require(QuestionnaireDraft(responseID: "r1", taskID: "t1", payload: payload))
        #expect(restored == draft)
        let reopened = QuestionnaireSession(questionnaire: session.questionnaire, draft: restored, language: nil, now: start)
        #expect(reopened.pageIndex == session.pageIndex)
        #expect(reopened.field.text == "80")
        #expect(reopened.answers == session.answers)
    }

    @Test("refused answers are listed under Needs attention with the server's words; d (after y) takes them back as a draft")
    func refusedAnswers() throws {
        var state = loggedInState(at: start)
        _ = reduce(&state, .statusLoaded(HomeStatus(rejected: 1)))
        #expect(press(&state, .character("n")) == [.loadAttention])
        _ = reduce(&state, .attention(.loaded([AttentionItem(responseID: "r1", title: "PHQ-9", reason: "Task/t1 was cancelled")])))
        let text = render(state).text
        #expect(text.contains("Your answers to PHQ-9"))
        #expect(text.contains("Task/t1 was cancelled"))
        #expect(press(&state, .character("e")).isEmpty)
        #expect(render(state).text.contains("Press d to make these answers a draft again"))
        #expect(press(&state, .character("d")).isEmpty)
        #expect(render(state).text.contains("y:yes, back to a draft"))
        #expect(press(&state, .character("y")) == [.discard(id: "r1")])
    }
}
