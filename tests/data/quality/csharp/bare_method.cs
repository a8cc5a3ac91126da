public virtual int Count(int[] values)
{
    int total = 0;
    foreach (var v in values)
    {
        if (v > 0 && v < 10)
        {
            total++;
        }
    }
    return total;
}
