import ArgumentParser
import BedsideCore
import Foundation

/// `bedside questionnaire`: tools for form authors and testers. Offline; no login.
struct QuestionnaireCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "questionnaire", abstract: "Check and try out FHIR R4 Questionnaires, offline and without logging in.",
        subcommands: [QuestionnaireFillCommand.self])
}

/// Reads a Questionnaire file, or says clearly why it cannot.
func readQuestionnaire(_ path: String) throws -> Questionnaire {
    guard let data = FileManager.default.contents(atPath: path) else { throw ValidationError("Cannot read \(path).") }
    let json: JSONValue
    do {
        json = try JSONParser.parse(Array(data))
    } catch {
        throw ValidationError("\(path) is not valid JSON: \(error)")
    }
    do {
        return try Questionnaire(json: json)
    } catch {
        throw ValidationError("\(path): \(error.description)")
    }
}

struct QuestionnaireFillCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fill",
        abstract: "Print the QuestionnaireResponse for a set of answers, with enableWhen applied.",
        discussion: """
            ANSWERS is a JSON object mapping a linkId to a value: a code for choice items, a number, a string, an ISO date, \
            true/false, or a list of values for a repeating item. A repeating group takes a list of such objects, one per \
            repetition. Required questions left unanswered and answers outside the form's rules are reported on stderr \
            and make the response 'in-progress' (exit 1). An answer that does not fit its item is an error (exit 2).
            """)

    @Argument(help: "The Questionnaire (FHIR R4 JSON).", completion: .file())
    var file: String

    @Option(help: "The answers (JSON).", completion: .file())
    var answers: String

    func run() async throws {
        let questionnaire = try readQuestionnaire(file)
        guard let data = FileManager.default.contents(atPath: answers) else { throw ValidationError("Cannot read \(answers).") }
        let sheet: JSONValue
        do {
            sheet = try JSONParser.parse(Array(data))
        } catch {
            throw ValidationError("\(answers) is not valid JSON: \(error)")
        }
        let fill: QuestionnaireFill
        do {
            fill = try QuestionnaireFill(questionnaire, answers: sheet)
        } catch {
            throw ValidationError(error.description)
        }
        for problem in questionnaire.problems() { complain("warning: \(problem.message)") }
        for problem in fill.problems { complain(problem.message) }
        print(fill.response().serializedString())
        if !fill.problems.isEmpty { throw Exit.failure }
    }
}
