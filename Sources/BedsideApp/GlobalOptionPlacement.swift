/// Global options may come before the subcommand (`bedside --data-dir D status`) or after it
/// (`bedside status --data-dir D`). The argument parser, which has a default subcommand, would read the
/// leading ones as the default command's and then stumble on the subcommand's name; so they are moved
/// to just after the subcommand's name, where every command takes them.
public struct GlobalOptionPlacement: Sendable {
    /// A command and its subcommands, by name.
    public struct Command: Sendable {
        public var name: String
        public var subcommands: [Command]

        public init(_ name: String, _ subcommands: [Command] = []) {
            self.name = name
            self.subcommands = subcommands
        }
    }

    /// The long names of the global options that take a value, e.g. `--data-dir`.
    public var valueOptions: Set<String>
    /// The root's subcommands.
    public var commands: [Command]

    public init(valueOptions: Set<String>, commands: [Command]) {
        self.valueOptions = valueOptions
        self.commands = commands
    }

    /// `arguments` (without the program name) with leading global options moved after the subcommand
    /// path (`measure list`); unchanged when nothing leads, or when no subcommand follows them (the
    /// default command takes them as they are).
    public func reordered(_ arguments: [String]) -> [String] {
        var leading: [String] = []
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            let name = argument.split(separator: "=", maxSplits: 1).first.map(String.init) ?? argument
            guard valueOptions.contains(name) else { break }
            if argument.contains("=") {
                leading.append(argument)
                index += 1
            } else {
                leading.append(contentsOf: arguments[index..<min(index + 2, arguments.count)])
                index += 2
            }
        }
        guard !leading.isEmpty, index < arguments.count else { return arguments }
        var path: [String] = []
        var level = commands
        while index < arguments.count, let command = level.first(where: { $0.name == arguments[index] }) {
            path.append(command.name)
            level = command.subcommands
            index += 1
        }
        guard !path.isEmpty else { return arguments }
        return path + leading + arguments[index...]
    }
}
