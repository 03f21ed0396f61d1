// Workload app for scripts/record-traces on the JVM. Same WORKLOAD names and knobs as app.js
// (steady, cache, leak, steps, sawtooth); "sawtooth" keeps objects alive for SURVIVE_S seconds
// so they are promoted and the old generation climbs until a full collection clears it.
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;

public final class TraceApp {
  static double env(String k, double d) {
    String v = System.getenv(k);
    return v == null ? d : Double.parseDouble(v);
  }

  public static void main(String[] args) throws Exception {
    String workload = System.getenv().getOrDefault("WORKLOAD", "steady");
    double warmup = env("WARMUP", 120), warmMiB = env("WARM_MIB", 40);
    double garbageKiB = env("GARBAGE_KIB_S", 4096), leakKiB = env("LEAK_KIB_S", 0);
    double leakStart = env("LEAK_START", warmup), survive = env("SURVIVE_S", 60);
    double stepMiB = env("STEP_MIB", 16), stepEvery = env("STEP_EVERY", 150);
    double cacheMiB = env("CACHE_MIB", 32);
    long t0 = System.nanoTime();
    ArrayList<byte[]> warm = new ArrayList<>();
    ArrayList<byte[]> leaked = new ArrayList<>();
    ArrayDeque<Object[]> aging = new ArrayDeque<>();  // {Double bornAt, byte[]}
    Map<Integer, byte[]> cache = new LinkedHashMap<>(16, 0.75f, true);
    Random rnd = new Random(42);
    double leakDebt = 0, lastStep = 0;
    long sink = 0;
    while (true) {
      double t = (System.nanoTime() - t0) / 1e9;
      for (int k = 0; k < garbageKiB / 10; k += 4) {
        byte[] g = new byte[4096];
        g[k % 4096] = (byte) k;
        sink += g[0];
      }
      if (t <= warmup && warm.size() * 256 < warmMiB * 1024) {
        long want = (long) Math.min(warmMiB * 4, Math.ceil(t / Math.max(warmup, 1) * warmMiB * 4));
        while (warm.size() < want) warm.add(touched(256 * 1024));
      }
      if (workload.equals("leak") && t >= leakStart) {
        leakDebt += leakKiB / 10;
        while (leakDebt >= 16) { leaked.add(touched(16 * 1024)); leakDebt -= 16; }
      }
      if (workload.equals("steps") && t >= leakStart && t - lastStep >= stepEvery) {
        lastStep = t;
        for (int k = 0; k < stepMiB * 4; ++k) leaked.add(touched(256 * 1024));
      }
      if (workload.equals("sawtooth")) {
        // Medium-lived objects: survive young collections, die in the old generation.
        aging.add(new Object[] {t, touched((int) (env("AGING_KIB_S", 512) / 10 * 1024))});
        while (!aging.isEmpty() && (double) aging.peekFirst()[0] < t - survive) aging.pollFirst();
      }
      if (workload.equals("cache")) {
        for (int k = 0; k < 8; ++k) {
          int key = rnd.nextInt(1_000_000);
          cache.put(key, touched(4096));
          while (cache.size() * 4 > cacheMiB * 1024) {
            Integer eldest = cache.keySet().iterator().next();
            cache.remove(eldest);
          }
        }
      }
      if (sink == Long.MIN_VALUE) System.out.println(sink);
      Thread.sleep(100);
    }
  }

  static byte[] touched(int n) {
    byte[] b = new byte[n];
    for (int i = 0; i < n; i += 4096) b[i] = 1;
    return b;
  }
}
