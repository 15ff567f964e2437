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
        subcommands: [InfoCommand.self, SelfTestCommand.self, DataCommand.self])

    static func main() {
        var command: ParsableCommand
        do {
            command = try parseAsRoot()
        } catch {
            let code = exitCode(for: error)
            if code == .success {
                print(fullMessage(for: error))
                Foundation.exit(0)
            }
            printError(fullMessage(for: error))
            Foundation.exit(2)
        }
        do {
            try command.run()
        } catch let e as EngineError {
            printError(e.message)
            Foundation.exit(e.kind == .usage ? 2 : 1)
        } catch let e as ExitCode {
            Foundation.exit(e.rawValue)
        } catch {
            printError("\(error)")
            Foundation.exit(1)
        }
        fflush(stdout)
        Foundation.exit(0)
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
