import BedsideCore
import Foundation

// The home screen, choosing a kind to measure, and the logout question.

func homeKey(_ state: inout AppState, _ key: Key) -> [Effect] {
    switch key {
    case .character("a"), .character("+"):
        state.push(.chooseKind(selection: 0))
    case .character("h"):
        state.push(.history(HistoryList(kind: .bloodPressure)))
        return [.loadHistory(kind: .bloodPressure, after: nil)]
    case .character("s"):
        return startSync(&state, manual: true)
    case .character("n"):
        state.push(.attention(AttentionList()))
        return [.loadAttention]
    case .character("f"):
        return openAssignments(&state)
    case .character("i") where state.sync.needsLogin:
        state.push(.reauth(TextField(masked: true, maxLength: 256)))
    case .character("e"):
        openExport(&state)
    case .character("L"), .character("l"):
        state.push(.logout)
    case .character("q"), .escape:
        state.quitting = true
        return [.quit]
    case .character("r"):
        return [.loadStatus]
    default:
        break
    }
    return []
}

func chooseKindKey(_ state: inout AppState, _ selection: Int, _ key: Key) -> [Effect] {
    var chosen: Int?
    switch key {
    case .up: state.replaceTop(.chooseKind(selection: (selection + addableKinds.count - 1) % addableKinds.count))
    case .down, .tab: state.replaceTop(.chooseKind(selection: (selection + 1) % addableKinds.count))
    case .enter: chosen = selection
    case .escape: state.pop()
    case .character(let character):
        if let number = character.wholeNumberValue, (1...addableKinds.count).contains(number) { chosen = number - 1 }
    default: break
    }
    if let chosen {
        let form = MeasurementForm(
            kind: addableKinds[chosen], glucosePart: state.glucosePart, now: state.now, zone: state.zone)
        state.replaceTop(.form(form))
    }
    return []
}

func logoutKey(_ state: inout AppState, _ key: Key) -> [Effect] {
    if key == .character("s"), state.status.unsent > 0 {
        state.pop()
        return startSync(&state, manual: true)
    }
    if isYes(key) {
        state.busy = .logoutBusy
        return [.logout]
    }
    if key == .escape || isNo(key) { state.pop() }
    return []
}

// MARK: Results of effects
