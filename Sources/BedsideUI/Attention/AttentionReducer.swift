import BedsideCore

// The "Needs attention" screen (what the server refused: fix, send again, or discard, always by the
// patient's explicit choice) and logging in again after the server ended the session.

func attentionKey(_ state: inout AppState, _ list: inout AttentionList, _ key: Key) -> [Effect] {
    defer { if case .attention = state.screen { state.replaceTop(.attention(list)) } }
    if list.confirmingDiscard {
        list.confirmingDiscard = false
        if isYes(key), let item = list.current {
            state.busy = .saving
            return [.discard(id: item.id)]
        }
        return []
    }
    switch key {
    case .up: list.selected = max(0, list.selected - 1)
    case .down: list.selected = min(max(0, list.items.count - 1), list.selected + 1)
    case .character("e"), .enter:
        guard let item = list.current else { return [] }
        guard let record = item.record else {
            // Answers are changed as a draft: d makes them one again.
            state.warn(state.localizer.text(.attentionEditAnswers))
            return []
        }
        if item.isWithdrawal {
            state.warn(state.localizer.text(.attentionNoEditWithdrawal))
            return []
        }
        let form = MeasurementForm(
            kind: record.kind, glucosePart: state.glucosePart, now: state.now, zone: state.zone,
            editing: record)
        state.replaceTop(.attention(list))
        state.push(.form(form))
    case .character("r"):
        guard let item = list.current else { return [] }
        state.busy = .saving
        return [.resend(id: item.id)]
    case .character("d"), .delete:
        if list.current != nil { list.confirmingDiscard = true }
    case .escape:
        state.pop()
        return [.loadStatus]
    default: break
    }
    return []
}

func reauthKey(_ state: inout AppState, _ field: inout TextField, _ key: Key) -> [Effect] {
    switch key {
    case .enter:
        guard !field.text.isEmpty, let session = state.session else { return [] }
        let password = field.text
        field.clear()
        state.replaceTop(.reauth(field))
        state.busy = .loginChecking
        return [.requestCode(server: session.server, email: session.email, password: password)]
    case .escape:
        // Not now: everything stays queued, and the home screen keeps offering it.
        state.pop()
    default:
        _ = field.handle(key)
        state.replaceTop(.reauth(field))
    }
    return []
}

func handleAttentionResult(_ state: inout AppState, _ action: AttentionAction) -> [Effect] {
    switch action {
    case .loaded(let items):
        guard case .attention(var list) = state.screen else { return [] }
        list.items = items
        list.loading = false
        list.selected = min(list.selected, max(0, items.count - 1))
        state.replaceTop(.attention(list))
    case .resent:
        state.busy = nil
        state.inform(.resent)
        return [.loadAttention, .loadStatus] + startSync(&state, manual: true)
    case .discarded:
        state.busy = nil
        state.inform(.discarded)
        return [.loadAttention, .loadStatus]
    case .reauthenticated:
        state.busy = nil
        state.stack.removeAll {
            switch $0 {
            case .reauth, .code: true
            default: false
            }
        }
        if state.stack.isEmpty { state.stack = [.home] }
        state.sync.needsLogin = false
        state.sync.failures = 0
        state.inform(.reauthDone)
        return startSync(&state, manual: true)
    }
    return []
}
