import BedsideCore
import Foundation

// Logging in (server, e-mail, password, then the e-mailed code) and unlocking this computer's account.

func loginKey(_ state: inout AppState, _ form: inout LoginForm, _ key: Key) -> [Effect] {
    defer { if case .login = state.screen { state.replaceTop(.login(form)) } }
    switch key {
    case .tab, .down:
        form.focus = (form.focus + 1) % form.fieldCount
    case .backTab, .up:
        form.focus = (form.focus + form.fieldCount - 1) % form.fieldCount
    case .function(2) where !state.kiosk:
        // An invited patient's first login, and back.
        form.enrolment.toggle()
        form.password.clear()
        form.passwordAgain.clear()
        form.code.clear()
        form.focus = form.server.text.isEmpty ? 0 : (form.email.text.isEmpty ? 1 : 2)
    case .escape:
        state.quitting = true
        return [.quit]
    case .enter:
        let server = form.server.text.trimmingCharacters(in: " ")
        let email = form.email.text.trimmingCharacters(in: " ")
        if server.isEmpty {
            form.server.error = state.localizer.text(.loginNeedServer)
            form.focus = 0
        } else if !server.lowercased().hasPrefix("https://") {
            form.server.error = state.localizer.text(.loginServerMustBeHTTPS)
            form.focus = 0
        } else if email.isEmpty {
            form.email.error = state.localizer.text(.loginNeedEmail)
            form.focus = 1
        } else if form.enrolment {
            return enrolSubmit(&state, &form, server: server, email: email)
        } else if form.password.text.isEmpty {
            form.password.error = state.localizer.text(.loginNeedPassword)
            form.focus = 2
        } else {
            let password = form.password.text
            form.password.clear()
            state.busy = .loginChecking
            return [.requestCode(server: server, email: email, password: password)]
        }
    default:
        switch (form.focus, form.enrolment) {
        case (0, _): _ = form.server.handle(key)
        case (1, _): _ = form.email.handle(key)
        case (2, true): _ = form.code.handle(key)
        case (4, true): _ = form.passwordAgain.handle(key)
        default: _ = form.password.handle(key)
        }
    }
    return []
}

/// The enrolment form, filled: the code and the same new password twice, then `.enrol`.
private func enrolSubmit(_ state: inout AppState, _ form: inout LoginForm, server: String, email: String) -> [Effect] {
    let code = form.code.text.trimmingCharacters(in: " ")
    if code.filter({ $0.isLetter || $0.isNumber }).count != 12 {
        form.code.error = state.localizer.text(.enrolNeedCode)
        form.focus = 2
    } else if form.password.text.isEmpty {
        form.password.error = state.localizer.text(.loginNeedPassword)
        form.focus = 3
    } else if form.password.text != form.passwordAgain.text {
        // Which of the two was mistyped nobody knows: both are typed again.
        form.password.clear()
        form.passwordAgain.clear()
        form.password.error = state.localizer.text(.cliPasswordsDiffer)
        form.focus = 3
    } else {
        let password = form.password.text
        form.password.clear()
        form.passwordAgain.clear()
        state.busy = .loginChecking
        return [.enrol(server: server, email: email, code: code, password: password)]
    }
    return []
}

func codeKey(_ state: inout AppState, _ field: inout TextField, _ key: Key) -> [Effect] {
    switch key {
    case .escape:
        state.pop()
        return []
    case .enter:
        let digits = field.text.filter(\.isNumber)
        guard digits.count == 6 else {
            field.error = state.localizer.text(.codeNeedSixDigits)
            state.replaceTop(.code(field))
            return []
        }
        state.busy = .codeChecking
        return [.verifyCode(code: digits)]
    case .character(let character) where !character.isNumber && character != " ":
        return []
    default:
        _ = field.handle(key)
        state.replaceTop(.code(field))
        return []
    }
}

func unlockKey(_ state: inout AppState, _ field: inout TextField, _ key: Key) -> [Effect] {
    switch key {
    case .enter:
        guard !field.text.isEmpty else { return [] }
        if state.now < state.unlockBlockedUntil {
            let seconds = (state.unlockBlockedUntil - state.now + 999) / 1000
            state.warn(state.localizer.text(.unlockWait, String(seconds)))
            return []
        }
        let password = field.text
        field.clear()
        state.replaceTop(.unlock(field))
        state.busy = .unlockChecking
        return [.unlock(password: password)]
    case .escape:
        state.quitting = true
        return [.quit]
    default:
        _ = field.handle(key)
        state.replaceTop(.unlock(field))
        return []
    }
}
