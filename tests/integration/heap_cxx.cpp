// heap_cxx: C++ operator new/delete in all their forms (plain, array,
// nothrow, sized, aligned) with the standard containers, and bad_alloc
// for an impossible request.
#include <cstdio>
#include <cstdlib>
#include <cstdint>
#include <map>
#include <memory>
#include <new>
#include <string>
#include <vector>

#define CHECK(c, what) do { if (!(c)) { fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, what); exit(1); } } while (0)

struct alignas(256) Big { char b[300]; };
char *volatile sink;

int main()
{
    std::map<std::string, std::vector<int>> m;
    for (int i = 0; i < 20000; i++)
        m[std::to_string(i % 997)].push_back(i);
    long sum = 0;
    for (auto &kv : m)
        for (int v : kv.second)
            sum += v;
    CHECK(sum == 20000L * 19999 / 2, "map sum");
    for (int i = 0; i < 1000; i++) {
        Big *b = new Big;
        CHECK(((uintptr_t)b & 255) == 0, "aligned new");
        delete b;
        Big *a = new Big[3];
        CHECK(((uintptr_t)a & 255) == 0, "aligned new[]");
        delete[] a;
        int *n = new (std::nothrow) int[i + 1];
        CHECK(n, "nothrow new");
        delete[] n;
        auto u = std::make_unique<std::string>(1000, 'x');
        auto s = std::make_shared<std::vector<char>>(i * 10);
    }
    bool threw = false;
    try {
        volatile size_t huge = SIZE_MAX / 4;
        sink = new char[huge];
    } catch (const std::bad_alloc &) {
        threw = true;
    }
    CHECK(threw, "bad_alloc");
    volatile size_t huge2 = SIZE_MAX / 4;
    sink = new (std::nothrow) char[huge2];
    CHECK(sink == nullptr, "nothrow new returns null");
    printf("heap_cxx ok\n");
    return 0;
}
