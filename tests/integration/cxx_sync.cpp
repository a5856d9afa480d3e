// cxx_sync - the libstdc++ synchronization facilities on top of pthreads and
// raw futex syscalls (built with -std=gnu++20):
//  - std::thread + std::mutex: 8 threads x 20000 increments exact;
//  - std::recursive_mutex: nested locking 3 deep from 4 threads, try_lock
//    by the owner succeeds;
//  - std::timed_mutex: try_lock_for / try_lock_until on a held mutex time
//    out (false, not early), succeed once it is free;
//  - std::shared_mutex: 6 readers + 2 writers, a writer is alone, readers
//    never see a half-done update; std::shared_timed_mutex
//    try_lock_shared_for times out behind a writer;
//  - std::condition_variable: predicate hand-offs; wait_for times out
//    (cv_status::timeout / false with a predicate), not early;
//    std::condition_variable_any with std::unique_lock and a timeout;
//  - std::promise/std::future across threads, future::wait_for times out
//    (future_status::timeout) before the value is set; std::async
//    (launch::async) x 8 results; std::shared_future seen by 4 threads;
//    an exception carried through a future;
//  - std::call_once from 16 threads: once;
//  - C++20 std::atomic<int>::wait/notify_one ping-pong (futex syscalls),
//    notify_all releasing 8 waiters;
//  - std::counting_semaphore: acquire/release hand-off, try_acquire_for
//    times out;
//  - std::latch (count_down, wait, arrive_and_wait) and std::barrier with a
//    completion function that runs exactly once per phase (8 threads x 50);
//  - std::jthread: stop_token polling, condition_variable_any::wait with a
//    stop token, std::stop_callback, destructor requests stop and joins.
#include "itest.h"

#include <atomic>
#include <barrier>
#include <chrono>
#include <condition_variable>
#include <future>
#include <latch>
#include <mutex>
#include <semaphore>
#include <shared_mutex>
#include <stdexcept>
#include <stop_token>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

static const auto WAIT = 150ms;

static void check_not_early(const char *what, steady::time_point start)
{
    auto took = steady::now() - start;
    CHECK(took >= WAIT, "%s: timed out after %lld us, before its %lld ms", what,
          (long long)std::chrono::duration_cast<std::chrono::microseconds>(took).count(),
          (long long)WAIT.count());
    CHECK(took < 5s, "%s: took %lld ms", what,
          (long long)std::chrono::duration_cast<std::chrono::milliseconds>(took).count());
}

static void check_mutex()
{
    std::mutex mu;
    long counter = 0;
    std::vector<std::thread> ts;
    for (int i = 0; i < 8; i++)
        ts.emplace_back([&] {
            for (int j = 0; j < 20000; j++) {
                if (j % 7 == 0) {
                    while (!mu.try_lock())
                        std::this_thread::yield();
                    counter++;
                    mu.unlock();
                } else {
                    std::lock_guard<std::mutex> g(mu);
                    counter++;
                }
            }
        });
    for (auto &t : ts)
        t.join();
    CHECK(counter == 8 * 20000, "counter %ld", counter);
    std::printf("std::thread + std::mutex: 8 x 20000 exact OK\n");

    std::recursive_mutex rm;
    long rcount = 0;
    ts.clear();
    for (int i = 0; i < 4; i++)
        ts.emplace_back([&] {
            for (int j = 0; j < 5000; j++) {
                std::lock_guard<std::recursive_mutex> a(rm);
                std::lock_guard<std::recursive_mutex> b(rm);
                CHECK(rm.try_lock(), "owner try_lock of recursive_mutex failed");
                rcount++;
                rm.unlock();
            }
        });
    for (auto &t : ts)
        t.join();
    CHECK(rcount == 4 * 5000, "rcount %ld", rcount);
    std::printf("std::recursive_mutex: 3 deep from 4 threads OK\n");
}

static void check_timed_mutex()
{
    std::timed_mutex tm;
    std::promise<void> locked, release;
    auto rel = release.get_future();
    std::thread holder([&] {
        tm.lock();
        locked.set_value();
        rel.wait();
        tm.unlock();
    });
    locked.get_future().wait();
    auto start = steady::now();
    CHECK(!tm.try_lock_for(WAIT), "try_lock_for got a held timed_mutex");
    check_not_early("timed_mutex::try_lock_for", start);
    start = steady::now();
    CHECK(!tm.try_lock_until(start + WAIT), "try_lock_until got a held timed_mutex");
    check_not_early("timed_mutex::try_lock_until", start);
    CHECK(!tm.try_lock(), "try_lock got a held timed_mutex");
    release.set_value();
    CHECK(tm.try_lock_for(10s), "try_lock_for failed after release");
    tm.unlock();
    holder.join();
    std::printf("std::timed_mutex: try_lock_for/try_lock_until time out, not early OK\n");
}

static void check_shared_mutex()
{
    std::shared_mutex sm;
    long a = 0, b = 0;
    std::atomic<int> writers_in{0}, readers_in{0};
    std::vector<std::thread> ts;
    for (int w = 0; w < 2; w++)
        ts.emplace_back([&] {
            for (int i = 0; i < 2000; i++) {
                std::unique_lock<std::shared_mutex> g(sm);
                CHECK(++writers_in == 1, "two writers inside");
                CHECK(readers_in == 0, "reader inside with a writer");
                a++;
                if (i % 100 == 0)
                    std::this_thread::yield();
                b++;
                writers_in--;
            }
        });
    for (int r = 0; r < 6; r++)
        ts.emplace_back([&] {
            for (int i = 0; i < 4000; i++) {
                std::shared_lock<std::shared_mutex> g(sm);
                readers_in++;
                CHECK(writers_in == 0, "writer inside with a reader");
                CHECK(a == b, "half-done update %ld %ld", a, b);
                readers_in--;
            }
        });
    for (auto &t : ts)
        t.join();
    CHECK(a == 4000 && b == 4000, "counters %ld %ld", a, b);
    std::printf("std::shared_mutex: 6 readers, 2 writers, counters exact OK\n");

    std::shared_timed_mutex stm;
    std::promise<void> locked, release;
    auto rel = release.get_future();
    std::thread writer([&] {
        stm.lock();
        locked.set_value();
        rel.wait();
        stm.unlock();
    });
    locked.get_future().wait();
    auto start = steady::now();
    CHECK(!stm.try_lock_shared_for(WAIT), "try_lock_shared_for got a write-held lock");
    check_not_early("shared_timed_mutex::try_lock_shared_for", start);
    start = steady::now();
    CHECK(!stm.try_lock_for(WAIT), "try_lock_for got a write-held lock");
    check_not_early("shared_timed_mutex::try_lock_for", start);
    release.set_value();
    writer.join();
    CHECK(stm.try_lock_shared_for(1s), "try_lock_shared_for failed on a free lock");
    stm.unlock_shared();
    std::printf("std::shared_timed_mutex: timed shared/exclusive locks time out OK\n");
}

static void check_condvars()
{
    std::mutex mu;
    std::condition_variable cv;
    int stage = 0;
    std::thread t([&] {
        for (int i = 0; i < 100; i++) {
            std::unique_lock<std::mutex> l(mu);
            cv.wait(l, [&] { return stage % 2 == 1; });
            stage++;
            cv.notify_all();
        }
    });
    for (int i = 0; i < 100; i++) {
        std::unique_lock<std::mutex> l(mu);
        cv.wait(l, [&] { return stage % 2 == 0; });
        stage++;
        cv.notify_all();
    }
    t.join();
    CHECK(stage == 200, "stage %d", stage);
    std::printf("std::condition_variable: 200 predicate hand-offs OK\n");

    std::unique_lock<std::mutex> l(mu);
    auto start = steady::now();
    CHECK(!cv.wait_for(l, WAIT, [] { return false; }), "wait_for with false predicate true");
    check_not_early("condition_variable::wait_for(pred)", start);
    start = steady::now();
    std::cv_status st;
    do
        st = cv.wait_until(l, start + WAIT);
    while (st == std::cv_status::no_timeout);
    check_not_early("condition_variable::wait_until", start);
    l.unlock();

    std::condition_variable_any cva;
    std::unique_lock<std::mutex> l2(mu);
    start = steady::now();
    CHECK(!cva.wait_for(l2, WAIT, [] { return false; }), "any wait_for with false predicate");
    check_not_early("condition_variable_any::wait_for(pred)", start);
    bool flag = false;
    std::thread setter([&] {
        std::this_thread::sleep_for(10ms);
        std::lock_guard<std::mutex> g(mu);
        flag = true;
        cva.notify_one();
    });
    CHECK(cva.wait_for(l2, 10s, [&] { return flag; }), "condition_variable_any not notified");
    l2.unlock();
    setter.join();
    std::printf("condition_variable(_any): wait_for/wait_until time out, not early; "
                "notify OK\n");
}

static void check_futures()
{
    std::promise<int> p;
    auto f = p.get_future();
    auto start = steady::now();
    CHECK(f.wait_for(WAIT) == std::future_status::timeout, "future ready too soon");
    check_not_early("future::wait_for", start);
    std::thread t([&] {
        std::this_thread::sleep_for(5ms);
        p.set_value(42);
    });
    CHECK(f.get() == 42, "promise value");
    t.join();

    std::vector<std::future<long>> fs;
    for (int i = 0; i < 8; i++)
        fs.push_back(std::async(std::launch::async, [i] {
            long s = 0;
            for (int j = 0; j <= 1000 * i; j++)
                s += j;
            std::this_thread::yield();
            return s;
        }));
    for (int i = 0; i < 8; i++) {
        long n = 1000L * i;
        CHECK(fs[i].get() == n * (n + 1) / 2, "async %d result", i);
    }
    auto deferred = std::async(std::launch::deferred, [] { return 7; });
    CHECK(deferred.wait_for(0s) == std::future_status::deferred, "deferred status");
    CHECK(deferred.get() == 7, "deferred result");

    std::promise<int> sp;
    std::shared_future<int> sf = sp.get_future().share();
    std::atomic<int> got{0};
    std::vector<std::thread> ts;
    for (int i = 0; i < 4; i++)
        ts.emplace_back([&] {
            if (sf.get() == 99)
                got++;
        });
    std::this_thread::sleep_for(5ms);
    sp.set_value(99);
    for (auto &x : ts)
        x.join();
    CHECK(got == 4, "shared_future seen by %d", got.load());

    auto thrower = std::async(std::launch::async, []() -> int { throw std::runtime_error("boom"); });
    bool caught = false;
    try {
        thrower.get();
    } catch (const std::runtime_error &e) {
        caught = std::string(e.what()) == "boom";
    }
    CHECK(caught, "exception not carried through the future");
    std::printf("promise/future (wait_for timeout), async x 8, shared_future x 4, exception "
                "OK\n");
}

static void check_call_once()
{
    std::once_flag of;
    std::atomic<int> runs{0}, after{0};
    std::vector<std::thread> ts;
    for (int i = 0; i < 16; i++)
        ts.emplace_back([&] {
            std::call_once(of, [&] {
                runs++;
                std::this_thread::sleep_for(20ms);
            });
            if (runs == 1)
                after++;
        });
    for (auto &t : ts)
        t.join();
    CHECK(runs == 1 && after == 16, "call_once ran %d times, seen by %d", runs.load(),
          after.load());
    std::printf("std::call_once: 16 threads, ran once OK\n");
}

static void check_atomic_wait()
{
    std::atomic<int> ball{0};
    const int N = 2000;
    std::thread t([&] {
        for (int i = 0; i < N; i++) {
            ball.wait(2 * i); // wait until it is odd
            CHECK(ball.load() == 2 * i + 1, "ball %d, want %d", ball.load(), 2 * i + 1);
            ball.store(2 * i + 2);
            ball.notify_one();
        }
    });
    for (int i = 0; i < N; i++) {
        int v = ball.load();
        while (v != 2 * i) {
            ball.wait(v);
            v = ball.load();
        }
        ball.store(2 * i + 1);
        ball.notify_one();
    }
    t.join();
    CHECK(ball == 2 * N, "ball %d", ball.load());

    std::atomic<int> go{0};
    std::atomic<int> woke{0};
    std::vector<std::thread> ts;
    for (int i = 0; i < 8; i++)
        ts.emplace_back([&] {
            go.wait(0);
            woke++;
        });
    std::this_thread::sleep_for(20ms);
    go.store(1);
    go.notify_all();
    for (auto &x : ts)
        x.join();
    CHECK(woke == 8, "notify_all woke %d", woke.load());
    std::printf("atomic<int>::wait/notify_one ping-pong x %d, notify_all x 8 OK\n", N);
}

static void check_semaphore()
{
    std::counting_semaphore<16> items{0}, slots{4};
    long sum = 0;
    std::thread prod([&] {
        for (int i = 1; i <= 5000; i++) {
            slots.acquire();
            items.release();
        }
    });
    for (int i = 1; i <= 5000; i++) {
        items.acquire();
        sum += i;
        slots.release();
    }
    prod.join();
    CHECK(sum == 5000L * 5001 / 2, "sum %ld", sum);
    std::binary_semaphore bs{0};
    auto start = steady::now();
    CHECK(!bs.try_acquire_for(WAIT), "try_acquire_for got a zero semaphore");
    check_not_early("binary_semaphore::try_acquire_for", start);
    CHECK(!bs.try_acquire(), "try_acquire got a zero semaphore");
    bs.release();
    CHECK(bs.try_acquire_for(1s), "try_acquire_for failed on 1");
    std::printf("counting_semaphore hand-off x 5000, try_acquire_for time out OK\n");
}

static void check_latch_barrier()
{
    std::latch done{8}, start{1};
    std::atomic<int> before{0};
    std::vector<std::thread> ts;
    for (int i = 0; i < 8; i++)
        ts.emplace_back([&] {
            start.wait();
            before++;
            done.count_down();
        });
    std::this_thread::sleep_for(5ms);
    CHECK(before == 0, "threads passed an open latch");
    start.count_down();
    done.wait();
    CHECK(before == 8 && done.try_wait(), "latch released early (%d)", before.load());
    for (auto &t : ts)
        t.join();
    std::latch meet{4};
    ts.clear();
    std::atomic<int> arrived{0}, bad{0};
    for (int i = 0; i < 4; i++)
        ts.emplace_back([&] {
            arrived++;
            meet.arrive_and_wait();
            if (arrived != 4)
                bad++;
        });
    for (auto &t : ts)
        t.join();
    CHECK(bad == 0, "arrive_and_wait returned before all arrived");
    std::printf("std::latch: count_down/wait/arrive_and_wait OK\n");

    const int NT = 8, PHASES = 50;
    std::atomic<int> phase_arrivals[PHASES];
    for (auto &x : phase_arrivals)
        x = 0;
    int completions = 0;
    int completion_phase_ok = 0;
    std::barrier bar(NT, [&]() noexcept {
        if (phase_arrivals[completions] == NT)
            completion_phase_ok++;
        completions++;
    });
    ts.clear();
    for (int i = 0; i < NT; i++)
        ts.emplace_back([&, i] {
            for (int p = 0; p < PHASES; p++) {
                phase_arrivals[p]++;
                if ((p + i) % 9 == 0)
                    std::this_thread::yield();
                bar.arrive_and_wait();
                CHECK(completions == p + 1, "phase %d: %d completions", p, completions);
            }
        });
    for (auto &t : ts)
        t.join();
    CHECK(completions == PHASES && completion_phase_ok == PHASES,
          "barrier completions %d (%d with all arrived), want %d", completions,
          completion_phase_ok, PHASES);
    std::printf("std::barrier: %d threads x %d phases, completion once per phase OK\n", NT,
                PHASES);
}

static void check_jthread()
{
    std::atomic<long> spins{0};
    std::atomic<bool> callback_ran{false};
    {
        std::jthread worker([&](std::stop_token st) {
            std::stop_callback cb(st, [&] { callback_ran = true; });
            while (!st.stop_requested()) {
                spins++;
                std::this_thread::sleep_for(1ms);
            }
        });
        while (spins < 3)
            std::this_thread::sleep_for(1ms);
    } // destructor: request_stop + join
    CHECK(callback_ran, "stop_callback did not run");

    std::mutex mu;
    std::condition_variable_any cv;
    bool woke_by_stop = false;
    std::jthread waiter([&](std::stop_token st) {
        std::unique_lock<std::mutex> l(mu);
        bool r = cv.wait(l, st, [] { return false; });
        woke_by_stop = !r && st.stop_requested();
    });
    std::this_thread::sleep_for(20ms);
    CHECK(waiter.request_stop(), "request_stop returned false");
    waiter.join();
    CHECK(woke_by_stop, "condition_variable_any::wait(stop_token) not woken by the stop");
    std::printf("std::jthread: stop_token, stop_callback, cv_any wait with stop token OK\n");
}

int main()
{
    check_mutex();
    check_timed_mutex();
    check_shared_mutex();
    check_condvars();
    check_futures();
    check_call_once();
    check_atomic_wait();
    check_semaphore();
    check_latch_barrier();
    check_jthread();
    return 0;
}
