public Counter(int start) : this()
{
    value = start;
}
