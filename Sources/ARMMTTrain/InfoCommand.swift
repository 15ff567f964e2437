import ARMMTGPU
import ArgumentParser

struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "List OpenCL platforms and devices, the CPU backend, and what --device auto picks.")

    @Flag(name: .long, help: "Print one JSON object.")
    var json = false

    func run() throws {
        let info = EngineInfo.gather()
        print(json ? try info.json() : info.text())
    }
}
