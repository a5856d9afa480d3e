/* std_fd_swap: a program that closes a standard descriptor and puts
 * another file in its place a little later (what a daemon or a subprocess
 * helper does) keeps what it put there. While CPU-bound threads run, the
 * runtime looks at its threads often; a descriptor it opened meanwhile
 * would take the free number 0, and its close would then close the file
 * the program dup2'ed there.
 *
 * Each round: close(0), spin 2 ms, dup2 a fresh pipe's read end onto 0,
 * spin 2 ms, then check that fd 0 is still that pipe (same inode) and
 * that a byte written into the pipe comes out of fd 0. Prints one line;
 * exit status 1 on the first round that fails. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define ROUNDS 150
#define SPINNERS 3

static atomic_int stop;

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void spin_ms(double ms)
{
	double end = now_ms() + ms;
	while (now_ms() < end)
		;
}

static void *spinner(void *arg)
{
	volatile unsigned long x = (unsigned long)arg;
	while (!atomic_load_explicit(&stop, memory_order_relaxed))
		x = x * 6364136223846793005ul + 1;
	return NULL;
}

int main(void)
{
	pthread_t t[SPINNERS];
	for (long i = 0; i < SPINNERS; i++)
		pthread_create(&t[i], NULL, spinner, (void *)i);
	int saved = dup(0);
	if (saved < 0) {
		perror("dup");
		return 2;
	}
	int bad = -1;
	for (int r = 0; r < ROUNDS && bad < 0; r++) {
		int p[2];
		if (pipe(p) != 0) {
			perror("pipe");
			return 2;
		}
		close(0);
		spin_ms(2);
		if (dup2(p[0], 0) != 0) {
			bad = r;
			break;
		}
		spin_ms(2);
		struct stat a, b;
		char c = 'x', d = 0;
		if (fstat(0, &a) != 0 || fstat(p[0], &b) != 0 || a.st_ino != b.st_ino ||
		    write(p[1], &c, 1) != 1 || read(0, &d, 1) != 1 || d != 'x')
			bad = r;
		close(p[0]);
		close(p[1]);
	}
	atomic_store(&stop, 1);
	for (int i = 0; i < SPINNERS; i++)
		pthread_join(t[i], NULL);
	dup2(saved, 0);
	close(saved);
	if (bad >= 0) {
		printf("std_fd_swap: fd 0 was not the program's pipe in round %d\n", bad);
		return 1;
	}
	printf("std_fd_swap: %d rounds, fd 0 always the program's\n", ROUNDS);
	return 0;
}
