/// Errors the engine reports to users: one line that names what and where.
///
/// `kind` decides the CLI's exit status: `.usage` (a bad flag, path, config value: exit 2)
/// or `.runtime` (a device failure, bad data found while running: exit 1).
public struct EngineError: Error, CustomStringConvertible, Equatable {
    public enum Kind: Sendable { case usage, runtime }
    public let kind: Kind
    public let message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public static func usage(_ message: String) -> EngineError { EngineError(.usage, message) }
    public static func runtime(_ message: String) -> EngineError { EngineError(.runtime, message) }

    public var description: String { message }
}
