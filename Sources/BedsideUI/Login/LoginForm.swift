import BedsideCore
import Foundation

/// The login screen's fields. F2 turns it into the enrolment form of an invited patient: the code from
/// the invitation e-mail and a new password, typed twice, instead of the password.
public struct LoginForm: Sendable, Equatable {
    public var server: TextField
    public var email: TextField
    public var password = TextField(masked: true, maxLength: 256)
    /// Enrolment only: the invitation's code, and the new password again.
    public var enrolment = false
    public var code = TextField(maxLength: 20)
    public var passwordAgain = TextField(masked: true, maxLength: 256)
    public var focus = 0

    public init(server: String, email: String = "") {
        self.server = TextField(server, maxLength: 300)
        self.email = TextField(email, maxLength: 254)
        focus = server.isEmpty ? 0 : (email.isEmpty ? 1 : 2)
    }

    /// Server, e-mail, password; or server, e-mail, code, password, password again.
    var fieldCount: Int { enrolment ? 5 : 3 }
}
