// cxx_exceptions - C++ runtime support must follow a thread as it yields:
//  - 16 std::threads each throw and catch 300 exceptions, with
//    sched_yield()/usleep() between throw and catch and during unwinding
//    (destructors of locals that yield), checking what() and that every
//    local destructor ran;
//  - an exception is carried to main with std::exception_ptr and rethrown;
//  - thread_local objects with constructors/destructors: exactly one
//    construction and one destruction per thread that touched it;
//  - a static object's destructor prints at exit (after main returns).
#include "itest.h"

#include <atomic>
#include <exception>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

static const int NT = 16;
static const int ROUNDS = 300;

static std::atomic<int> tl_ctors{0}, tl_dtors{0}, local_dtors{0};

struct Tracker {
    int id = -1;
    std::string tag;
    Tracker() { tl_ctors++; }
    ~Tracker()
    {
        if (tag != "thread-" + std::to_string(id))
            FAIL("thread_local destructor sees tag '%s' id %d", tag.c_str(), id);
        tl_dtors++;
    }
};
static thread_local Tracker tracker;

struct Bye {
    ~Bye()
    {
        printf("static destructor: thread_local ctors=%d dtors=%d\n", tl_ctors.load(),
               tl_dtors.load());
        fflush(stdout);
    }
};
static Bye bye;

struct YieldingLocal {
    int *counter;
    explicit YieldingLocal(int *c) : counter(c) {}
    ~YieldingLocal()
    {
        sched_yield();
        ++*counter;
        local_dtors++;
    }
};

struct Oops : std::runtime_error {
    int id, round;
    Oops(int i, int r) : std::runtime_error("oops " + std::to_string(i) + "/" + std::to_string(r)),
                         id(i), round(r) {}
};

static __attribute__((noinline)) void deep(int id, int r, int depth, int *unwound)
{
    YieldingLocal guard(unwound);
    if (depth == 0) {
        if (r % 3 == 0)
            usleep(20);
        else
            sched_yield();
        if (r % 2)
            throw Oops(id, r);
        throw std::runtime_error("plain " + std::to_string(id) + "/" + std::to_string(r));
    }
    deep(id, r, depth - 1, unwound);
}

static void worker(int id, std::exception_ptr *carry)
{
    tracker.id = id;
    tracker.tag = "thread-" + std::to_string(id);
    for (int r = 0; r < ROUNDS; r++) {
        int unwound = 0;
        try {
            deep(id, r, 3, &unwound);
            FAIL("no exception thrown");
        } catch (const Oops &e) {
            sched_yield();
            CHECK(r % 2 == 1 && e.id == id && e.round == r, "thread %d: wrong Oops %s", id,
                  e.what());
            CHECK(std::string(e.what()) == "oops " + std::to_string(id) + "/" + std::to_string(r),
                  "thread %d: what() = %s", id, e.what());
        } catch (const std::exception &e) {
            usleep(10);
            CHECK(r % 2 == 0, "thread %d: Oops caught as std::exception", id);
            CHECK(std::string(e.what()) == "plain " + std::to_string(id) + "/" + std::to_string(r),
                  "thread %d: what() = %s", id, e.what());
        }
        CHECK(unwound == 4, "thread %d: %d of 4 local destructors ran", id, unwound);
    }
    try {
        throw std::logic_error("carried from thread " + std::to_string(id));
    } catch (...) {
        sched_yield();
        *carry = std::current_exception();
    }
}

int main()
{
    std::vector<std::thread> threads;
    std::vector<std::exception_ptr> carried(NT);
    for (int i = 0; i < NT; i++)
        threads.emplace_back(worker, i, &carried[i]);
    for (auto &t : threads)
        t.join();
    int rethrown = 0;
    for (int i = 0; i < NT; i++) {
        try {
            std::rethrow_exception(carried[i]);
        } catch (const std::logic_error &e) {
            CHECK(std::string(e.what()) == "carried from thread " + std::to_string(i),
                  "carried exception %s", e.what());
            rethrown++;
        }
    }
    CHECK(tl_ctors == NT && tl_dtors == NT, "thread_local ctors=%d dtors=%d, want %d",
          tl_ctors.load(), tl_dtors.load(), NT);
    CHECK(local_dtors == NT * ROUNDS * 4, "local destructors %d", local_dtors.load());
    printf("%d threads x %d exceptions caught, %d local destructors\n", NT, ROUNDS,
           local_dtors.load());
    printf("exception_ptr rethrown in main: %d\n", rethrown);
    return 0;
}
