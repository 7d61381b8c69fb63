/* tiny: a short-lived program for the process-churn workload. */
#include <stdlib.h>
int main(int argc, char **argv)
{
    return argc > 1 ? atoi(argv[1]) & 1 : 0;
}
