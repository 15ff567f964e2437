import ARMMTGPU
import ArgumentParser
import Foundation

/// `armmt-gpu`: thin command-line layer; the work lives in the ARMMTGPU library.
///
/// Exit status: 0 success, 2 usage errors (bad flag, path, config value), 1 runtime errors.
/// Every error is one line on stderr, never a trap or a backtrace.
@main
struct ARMMTCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "armmt-gpu",
        abstract: "Train and evaluate ARMMT multimodal re-rankers on OpenCL GPUs or the CPU.",
        subcommands: [InfoCommand.self, SelfTestCommand.self, BenchCommand.self, DataCommand.self, TrainCommand.self, EvalCommand.self, PredictCommand.self])

    static func main() {
        if let reason = HostCPU.unsupportedReason() {
            printError(reason)
            Foundation.exit(1)
        }
        var command: ParsableCommand
        do {
            command = try parseAsRoot()
        } catch {
            exitReporting(error, parsing: true)
        }
        do {
            try command.run()
        } catch {
            exitReporting(error, parsing: false)
        }
        fflush(stdout)
        Foundation.exit(0)
    }

    /// One line on stderr and the documented exit status: 2 for usage errors (bad flags,
    /// paths, config values), 1 for runtime errors, 0 for help and version requests.
    static func exitReporting(_ error: Error, parsing: Bool) -> Never {
        switch error {
        case let e as EngineError:
            printError(e.message)
            Foundation.exit(e.kind == .usage ? 2 : 1)
        case let e as ExitCode:
            fflush(stdout)
            Foundation.exit(e.rawValue)
        default:
            let code = exitCode(for: error)
            if code == .success {
                print(fullMessage(for: error))
                fflush(stdout)
                Foundation.exit(0)
            }
            // ArgumentParser's full message adds help and usage lines; the error is one line,
            // with where to look next.
            printError(oneLine(message(for: error)) + hint(for: error))
            // ArgumentParser reports its own usage errors as validation failures (64).
            Foundation.exit(parsing || code == .validationFailure ? 2 : 1)
        }
    }
}

extension ARMMTCommand {
    static func oneLine(_ text: String) -> String {
        let lines = text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        let first: String = lines.first ?? text
        return first.hasPrefix("Error: ") ? String(first.dropFirst("Error: ".count)) : first
    }

    /// "Missing value" for a flag followed by a negative number: ArgumentParser took the number
    /// for a flag. Otherwise, where the command's flags are listed.
    static func hint(for error: Error) -> String {
        let args = CommandLine.arguments.dropFirst()
        if message(for: error).contains("Missing value"),
           args.contains(where: { $0.count > 1 && $0.hasPrefix("-") && ($0.dropFirst().first.map { $0.isNumber || $0 == "." } ?? false) }) {
            return "; write a negative number as --flag=-1"
        }
        let names = configuration.subcommands.compactMap { $0.configuration.commandName }
        let sub = args.first.flatMap { names.contains($0) ? $0 : nil }
        return " (see `armmt-gpu \(sub.map { $0 + " " } ?? "")--help`)"
    }
}

func printError(_ message: String) {
    fflush(stdout)
    FileHandle.standardError.write(Data(("armmt-gpu: error: " + message + "\n").utf8))
}

/// `--device`, shared by every command that runs ops.
struct DeviceOptions: ParsableArguments {
    @Option(name: .long, help: "auto, cpu, opencl or opencl:N (default: $ARMMT_DEVICE, else auto).")
    var device: String?

    func selector() throws -> DeviceSelector { try DeviceSelector.resolve(flag: device) }
}
