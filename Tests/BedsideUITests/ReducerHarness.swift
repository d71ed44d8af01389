import BedsideCore

@testable import BedsideUI

// Driving the reducer by hand, as the runtime would.

/// Unlocked as Ann at `now`, on the home screen, with the start-up sync already finished.
func loggedInState(at now: Int64) -> AppState {
    var state = AppState(width: 80, height: 24, now: now, utcOffsetSeconds: 3600, language: .en, hasAccount: true, server: "", idSeed: 1)
    _ = reduce(&state, .unlocked(SessionInfo(displayName: "Ann", email: "ann@example.org", server: "https://s")))
    _ = reduce(&state, .syncFinished(SyncOutcome()))
    return state
}

func press(_ state: inout AppState, _ keys: Key...) -> [Effect] {
    var effects: [Effect] = []
    for key in keys { effects += reduce(&state, .key(key)) }
    return effects
}

func type(_ state: inout AppState, _ text: String) {
    for character in text { _ = reduce(&state, .key(.character(character))) }
}
