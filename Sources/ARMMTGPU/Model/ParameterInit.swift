/// Creates the model's parameters with PyTorch's default initialisation, seeded, and keeps them
/// in creation order (the stable order of `TrainableModel.parameters`).
///
/// Each parameter draws from its own stream, `SeededRandom(seed: seed ⊕ FNV-1a(name))`, so a
/// parameter's initial value depends only on the seed and its name: switching an ablation on
/// or off leaves every shared parameter's start unchanged.
final class ParameterFactory {
    let backend: Backend
    let seed: UInt64
    private(set) var created: [Parameter] = []

    init(backend: Backend, seed: UInt64) {
        self.backend = backend
        self.seed = seed
    }

    private func stream(_ name: String) -> SeededRandom {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in name.utf8 {
            h ^= UInt64(byte)
            h = h &* 0x0000_0100_0000_01B3
        }
        return SeededRandom(seed: seed ^ h)
    }

    private func make(_ name: String, _ shape: [Int], _ values: [Float]) throws -> Parameter {
        precondition(!created.contains { $0.name == name }, "parameter \(name) created twice")
        let p = try Parameter(name: name, shape: shape, backend: backend, initial: values)
        created.append(p)
        return p
    }

    /// `U(−bound, bound)` with `bound = 1/√fanIn` (0 when fanIn = 0, as PyTorch): Linear weights and biases.
    func uniform(_ name: String, _ shape: [Int], fanIn: Int) throws -> Parameter {
        var rng = stream(name)
        let bound = fanIn > 0 ? 1 / Double(fanIn).squareRoot() : 0
        let n = shape.reduce(1, *)
        return try make(name, shape, (0..<n).map { _ in Float(rng.uniform(-bound, bound)) })
    }

    /// `N(0, 1)`: embedding tables.
    func normal(_ name: String, _ shape: [Int]) throws -> Parameter {
        var rng = stream(name)
        let n = shape.reduce(1, *)
        return try make(name, shape, (0..<n).map { _ in Float(rng.normal()) })
    }

    func constant(_ name: String, _ shape: [Int], _ value: Float) throws -> Parameter {
        try make(name, shape, [Float](repeating: value, count: shape.reduce(1, *)))
    }
}
