import BedsideCore
import Foundation

extension Painter {
    mutating func login(_ form: LoginForm) {
        title(t.text(form.enrolment ? .enrolTitle : .loginTitle))
        var row = paragraph(t.text(form.enrolment ? .enrolIntro : .loginIntro), y: top + 2) + 1
        row = field(t.text(.fieldServer), form.server, y: row, focused: form.focus == 0, boxWidth: 44)
        row = field(t.text(.fieldEmail), form.email, y: row, focused: form.focus == 1, boxWidth: 44)
        if form.enrolment {
            row = field(t.text(.fieldEnrolCode), form.code, y: row, focused: form.focus == 2, boxWidth: 16)
            row = field(t.text(.fieldNewPassword), form.password, y: row, focused: form.focus == 3, boxWidth: 44)
            field(t.text(.fieldPasswordAgain), form.passwordAgain, y: row, focused: form.focus == 4, boxWidth: 44)
        } else {
            field(t.text(.fieldPassword), form.password, y: row, focused: form.focus == 2, boxWidth: 44)
        }
        let enrolKey = state.kiosk ? "" : "  " + t.text(form.enrolment ? .keyLoginInstead : .keyEnrol)
        hints = "\(t.text(.keyNextField))  \(t.text(.keyContinue))\(enrolKey)  Esc\(t.text(.keyQuit).drop { $0 != ":" })"
    }

    mutating func code(_ field: TextField) {
        title(t.text(.codeTitle))
        let row = paragraph(t.text(.codeIntro, state.session?.email ?? emailOnLoginForm()), y: top + 2) + 1
        self.field(t.text(.fieldCode), field, y: row, focused: true, boxWidth: 8)
        hints = "\(t.text(.keyContinue))  \(t.text(.codeResend))"
    }

    func emailOnLoginForm() -> String {
        for screen in state.stack.reversed() {
            if case .login(let form) = screen { return form.email.text }
        }
        return ""
    }

    mutating func unlock(_ field: TextField) {
        title(t.text(.unlockTitle))
        let row = paragraph(t.text(.unlockIntro), y: top + 2) + 1
        self.field(t.text(.fieldPassword), field, y: row, focused: true, boxWidth: 32)
        hints = "\(t.text(.keyContinue))  Esc\(t.text(.keyQuit).drop { $0 != ":" })"
    }
}
